-- v1.1 codes are 20 characters; the 16-character codes issued before stay as they are (told apart by length).
ALTER TABLE "receipts" ALTER COLUMN "code" SET DATA TYPE varchar(20);