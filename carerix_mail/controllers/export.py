from werkzeug.exceptions import NotFound

from odoo import http
from odoo.http import content_disposition, request


class CarerixMailExportController(http.Controller):
    @http.route(
        "/carerix_mail/export/<int:wizard_id>",
        type="http",
        auth="user",
        methods=["GET"],
    )
    def carerix_mail_export(self, wizard_id):
        """The ZIP of *Export this person's mail*, built for this download and
        not stored: only the user who prepared the export gets it (the
        wizard checks the group and its maker, and writes the audit entry)."""
        wizard = request.env["carerix.mail.export.wizard"].browse(wizard_id).exists()
        if not wizard:
            raise NotFound()
        name, data = wizard._carerix_export()
        return request.make_response(
            data,
            headers=[
                ("Content-Type", "application/zip"),
                ("Content-Disposition", content_disposition(name)),
                ("Content-Length", str(len(data))),
                ("Cache-Control", "no-store"),
            ],
        )
