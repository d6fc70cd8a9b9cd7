"""Reading uploaded office files: XLSX (openpyxl), DOCX (python-docx), PPTX (python-pptx), PDF (pypdf).

Each reader returns plain data (cells, text, slide count) or raises UploadError with a message a trainee
understands; a damaged file never reaches grading and nothing already saved is touched."""

from __future__ import annotations

import io
import zipfile

MAX_BYTES = 5 * 1024 * 1024
MAX_CELLS = 20_000
MAX_TEXT = 200_000
KINDS = ("xlsx", "docx", "pptx", "pdf")


class UploadError(ValueError):
    """The file could not be read; the message says why."""


def kind_of(filename: str) -> str:
    ext = (filename or "").rsplit(".", 1)[-1].lower() if "." in (filename or "") else ""
    if ext not in KINDS:
        raise UploadError(f"{filename or 'the file'}: only .xlsx, .docx, .pptx or .pdf files are accepted")
    return ext


def read(kind: str, content: bytes) -> dict:
    """What grading needs from a file of ``kind``: ``{"rows": [[...]]}`` for a spreadsheet (first sheet,
    values as stored), ``{"text": ..., "slides": n}`` for documents."""
    if not content:
        raise UploadError("the file is empty")
    if len(content) > MAX_BYTES:
        raise UploadError(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB")
    if kind != "pdf" and not zipfile.is_zipfile(io.BytesIO(content)):
        raise UploadError(f"this is not a valid .{kind} file (an Office file is a zip package; this one is not)")
    try:
        return {"xlsx": _xlsx, "docx": _docx, "pptx": _pptx, "pdf": _pdf}[kind](content)
    except UploadError:
        raise
    except Exception as e:  # the libraries raise many types for a damaged file; the trainee needs one message
        raise UploadError(f"the .{kind} file could not be read ({type(e).__name__}); save it again and retry") from e


def _xlsx(content: bytes) -> dict:
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    try:
        ws = wb.worksheets[0]
        rows, cells = [], 0
        for row in ws.iter_rows(values_only=True):
            cells += len(row)
            if cells > MAX_CELLS:
                raise UploadError(f"the sheet has more than {MAX_CELLS} cells")
            rows.append([_cell(v) for v in row])
    finally:
        wb.close()
    while rows and all(v is None for v in rows[-1]):
        rows.pop()
    return {"sheet": ws.title, "rows": rows}


def _cell(v):
    if v is None or isinstance(v, bool | int | float | str):
        return v.strip() if isinstance(v, str) else v
    return str(v)


def _docx(content: bytes) -> dict:
    import docx

    d = docx.Document(io.BytesIO(content))
    parts = [p.text for p in d.paragraphs]
    for t in d.tables:
        for row in t.rows:
            parts.append(" | ".join(c.text for c in row.cells))
    return {"text": "\n".join(parts)[:MAX_TEXT], "paragraphs": len(d.paragraphs)}


def _pptx(content: bytes) -> dict:
    from pptx import Presentation

    prs = Presentation(io.BytesIO(content))
    parts, slides = [], 0
    for slide in prs.slides:
        slides += 1
        for shape in slide.shapes:
            if shape.has_text_frame:
                parts.append(shape.text_frame.text)
            if getattr(shape, "has_table", False) and shape.has_table:
                for row in shape.table.rows:
                    parts.append(" | ".join(c.text for c in row.cells))
    return {"text": "\n".join(parts)[:MAX_TEXT], "slides": slides}


def _pdf(content: bytes) -> dict:
    from pypdf import PdfReader

    if not content.startswith(b"%PDF"):
        raise UploadError("this is not a PDF file (it does not start with %PDF)")
    reader = PdfReader(io.BytesIO(content))
    text = "\n".join((page.extract_text() or "") for page in reader.pages)
    return {"text": text[:MAX_TEXT], "pages": len(reader.pages)}
