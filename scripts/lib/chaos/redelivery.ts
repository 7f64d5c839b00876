/**
 * The consumer's chaos fault, as a wrapper around its batch: while armed, a
 * message the consumer acks on its first delivery is retried at once instead,
 * so it comes a second time (the queue's at-least-once, made certain).
 */

/** `batch` with each first delivery's ack turned into an immediate retry; `onRedeliver` hears each one. */
export function redeliverFirst<T>(batch: MessageBatch<T>, onRedeliver: (id: string) => void): MessageBatch<T> {
  const messages = batch.messages.map(
    (m): Message<T> => ({
      id: m.id,
      timestamp: m.timestamp,
      body: m.body,
      attempts: m.attempts,
      retry: (options) => m.retry(options),
      ack: () => {
        if (m.attempts !== 1) return m.ack();
        onRedeliver(m.id);
        m.retry({ delaySeconds: 0 });
      },
    }),
  );
  return {
    queue: batch.queue,
    metadata: batch.metadata,
    messages,
    ackAll: () => {
      for (const m of messages) m.ack();
    },
    retryAll: (options) => batch.retryAll(options),
  };
}
