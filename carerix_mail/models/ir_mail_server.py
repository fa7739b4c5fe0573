from odoo import models

from .mail_mail import _OUTGOING_MEMO


class IrMailServer(models.Model):
    _inherit = "ir.mail_server"

    def send_email(self, message, *args, **kwargs):
        """Odoo's; while ``mail.mail._send`` sends, the messages that left for
        the mail being sent are kept (with their From as built, which sending
        may rewrite), so that its Sent copy reuses the one that left instead
        of building it again (``mail.mail._carerix_sent_copy``)."""
        memo = _OUTGOING_MEMO.get()
        if memo is not None:
            memo.setdefault("messages", []).append((message, message["From"]))
        return super().send_email(message, *args, **kwargs)
