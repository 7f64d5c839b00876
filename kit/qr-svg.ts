/**
 * A QR code as a small SVG: uqr encodes; each row is one stroked line, and
 * each run of dark modules in it a relative move and a horizontal stroke
 * (uqr's own renderer writes a square per module, four times the bytes). The
 * receipt page carries a signed QR of version 13–15, so this is most of the
 * page's weight on a phone.
 */
import { encode } from "uqr";

export function qrSvg(text: string, border = 2): string {
  const { data, size } = encode(text, { ecc: "L" });
  const full = size + border * 2;
  let d = "";
  data.forEach((row, y) => {
    let pen = -1; // no run on this row yet
    let x = 0;
    while (x < size) {
      if (!row[x]) {
        x++;
        continue;
      }
      let end = x;
      while (end < size && row[end]) end++;
      d += pen < 0 ? `M${x + border} ${y + border + 0.5}h${end - x}` : `m${x - pen} 0h${end - x}`;
      pen = end;
      x = end;
    }
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${full} ${full}" shape-rendering="crispEdges"><rect fill="#fff" width="${full}" height="${full}"/><path stroke="#000" d="${d}"/></svg>`;
}
