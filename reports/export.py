"""Export a report dict (reports.data) to XLSX (openpyxl) and PDF (fpdf2).

Chinese text in the PDF needs a CJK font: the Noto Sans CJK collection from the Debian package
``fonts-noto-cjk`` (/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc, face 2 = Simplified Chinese),
which the Makefile installs. Without it the PDF falls back to DejaVu Sans or the core Helvetica font and
characters those fonts lack are replaced, so an export never fails for want of a font.
"""

from __future__ import annotations

import io
import os

CJK_FONTS = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
)
FALLBACK_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def _cell(v):
    return v if isinstance(v, int | float | str | bool) or v is None else str(v)


def to_xlsx(report: dict) -> bytes:
    """One sheet "Summary" with the summary figures, then one sheet per section (header row + data rows)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "Summary"
    ws.append([report["title"]])
    ws["A1"].font = Font(bold=True)
    for label, value in report["summary"]:
        ws.append([label, _cell(value)])
    for section in report["sections"]:
        sh = wb.create_sheet(section["key"][:31])
        sh.append([section["title"]])
        sh["A1"].font = Font(bold=True)
        sh.append(list(section["columns"]))
        for row in section["rows"]:
            sh.append([_cell(v) for v in row])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _font(pdf) -> tuple[str, bool]:
    """Register the first CJK font found; returns (family, unicode_ok)."""
    for path, index in CJK_FONTS:
        if os.path.exists(path):
            for style in ("", "B"):  # table headings are bold; the regular face stands in for it
                pdf.add_font("cjk", style=style, fname=path, collection_font_number=index)
            return "cjk", True
    if os.path.exists(FALLBACK_FONT):
        for style in ("", "B"):
            pdf.add_font("dejavu", style=style, fname=FALLBACK_FONT)
        return "dejavu", True
    return "helvetica", False


def to_pdf(report: dict) -> bytes:
    """A4 pages: the title, the summary, then each section as a table (long tables run onto more pages)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    family, unicode_ok = _font(pdf)

    def text(v) -> str:
        s = "" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))
        return s if unicode_ok else s.encode("latin-1", "replace").decode("latin-1")

    pdf.add_page()
    pdf.set_font(family, size=15)
    pdf.multi_cell(0, 9, text(report["title"]), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=10)
    for label, value in report["summary"]:
        pdf.cell(0, 6, text(f"{label}: {text(value)}"), new_x="LMARGIN", new_y="NEXT")
    for section in report["sections"]:
        pdf.ln(3)
        pdf.set_font(family, size=12)
        pdf.cell(0, 8, text(section["title"]), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, size=8)
        if not section["rows"]:
            pdf.cell(0, 6, "-", new_x="LMARGIN", new_y="NEXT")
            continue
        with pdf.table(text_align="LEFT", line_height=5) as table:
            table.row([text(c) for c in section["columns"]])
            for row in section["rows"]:
                table.row([text(v) for v in row])
    return bytes(pdf.output())
