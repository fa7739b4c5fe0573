"""Text of RTF documents for Odoo's attachment index (``index_content``), so
that a CV mailed as RTF is found by its words like a PDF or DOCX one
(``attachment_indexation`` reads neither RTF nor DOC)."""

import re

from odoo import api, models

# A control word with its argument, an escaped hex byte, a control symbol, a
# brace, a line break of the file (no text), or a text character.
_TOKEN = re.compile(
    rb"\\([a-z]{1,32})(-?\d{1,10})? ?|\\'([0-9a-f]{2})|\\([^a-z])|([{}])|[\r\n]+|(.)",
    re.IGNORECASE | re.DOTALL,
)
# Groups that hold no text of the document.
_SKIPPED = {
    b"fonttbl",
    b"colortbl",
    b"stylesheet",
    b"info",
    b"pict",
    b"object",
    b"header",
    b"footer",
    b"listtable",
    b"listoverridetable",
    b"rsidtbl",
    b"generator",
    b"themedata",
    b"datastore",
    b"latentstyles",
}
_BREAKS = {b"par": "\n", b"line": "\n", b"row": "\n", b"cell": " ", b"tab": "\t"}


def rtf_text(data):
    """The text of the RTF document ``data`` (bytes)."""
    out, stack, skip, fallback = [], [], False, 0
    for match in _TOKEN.finditer(data):
        word, arg, hexcode, symbol, brace, char = match.groups()
        if brace:
            if brace == b"{":
                stack.append(skip)
            else:
                skip = stack.pop() if stack else False
            continue
        if word:
            if word.lower() in _SKIPPED:
                skip = True
            elif not skip and word == b"u" and arg:
                out.append(chr(int(arg) % 65536))
                fallback = 1  # the character shown by readers without Unicode
            elif not skip and word in _BREAKS:
                out.append(_BREAKS[word])
            continue
        if symbol:
            if symbol == b"*":
                skip = True  # an optional destination
            elif not skip and symbol in b"\\{}":
                out.append(symbol.decode())
            elif not skip and symbol == b"~":
                out.append(" ")
            continue
        text = bytes([int(hexcode, 16)]) if hexcode else char
        if text is None or skip:
            continue
        if fallback:
            fallback -= 1
            continue
        out.append(text.decode("cp1252", "replace"))
    return "".join(out).strip()


class IrAttachment(models.Model):
    _inherit = "ir.attachment"

    @api.model
    def _index(self, bin_data, mimetype, checksum=None):
        if bin_data and bin_data[:5] == b"{\\rtf":
            return rtf_text(bin_data)
        return super()._index(bin_data, mimetype, checksum=checksum)
