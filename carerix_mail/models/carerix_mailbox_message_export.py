"""*Export this person's mail* (extends carerix.mailbox.message): the entries
of every owner that hold a person's addresses, and the ZIP of their ``.eml``
files (built by :mod:`..engine.export`)."""

import base64

from odoo import _, api, models
from odoo.exceptions import AccessError

from ..engine.export import ExportedMail, build_zip
from ..engine.message import normalize_email, parse_headers

RAW_NAME = "message.eml"
"""The name of the original of a mail stored raw, attached to its entry."""
DATA_PROTECTION_GROUP = "carerix_mail.group_data_protection"


def normalized_emails(emails):
    """The plausible addresses of ``emails``, normalized, as a set."""
    return {e for e in (normalize_email(v) for v in emails or ()) if e}


class CarerixMailboxMessage(models.Model):
    _inherit = "carerix.mailbox.message"

    @api.model
    def _carerix_check_data_protection(self):
        """Raise unless the user is in the *Data protection* group (or the
        code runs as superuser): the person-wide actions read every owner's
        mail, confidential mail included."""
        if self.env.su or self.env.user.has_group(DATA_PROTECTION_GROUP):
            return
        raise AccessError(
            _(
                "Only members of the Data protection group may export or erase "
                "a person's archived mail."
            )
        )

    @api.model
    def _carerix_export_entries(self, emails):
        """The entries (sudo, every owner, private and raw ones too) whose
        From, To or Cc holds one of ``emails``
        (:meth:`_carerix_person_entries`), and the raw ones whose original
        has them in To or Cc (a raw entry stores its From only)."""
        emails = normalized_emails(emails)
        if not emails:
            return self.sudo().browse()
        found = self._carerix_person_entries(sorted(emails))
        raw_entries = self.sudo().search([("state", "=", "raw")]) - found
        for entry, raw in self._carerix_raw_originals(raw_entries).items():
            info = parse_headers(raw)
            if {a.email for a in (*info.from_, *info.to, *info.cc)} & emails:
                found |= entry
        return found.sorted(lambda e: (e.date, e.id))

    @api.model
    def _carerix_raw_originals(self, entries):
        """``{entry: bytes}``: the original of each raw entry that has one."""
        attachments = (
            self.env["ir.attachment"]
            .sudo()
            .search(
                [
                    ("res_model", "=", self._name),
                    ("res_id", "in", entries.ids),
                    ("name", "=", RAW_NAME),
                ]
            )
        )
        return {
            entries.browse(att.res_id).with_env(entries.env): att.raw
            for att in attachments
        }

    def _carerix_mailbox_copies(self):
        """``{entry id: its mailbox copy}`` (the mail.message in the entry's own
        chatter that holds the archived mail)."""
        copies = (
            self.env["mail.message"]
            .sudo()
            .search(
                [
                    ("carerix_mailbox_message_id", "in", self.ids),
                    ("model", "=", self._name),
                    ("message_type", "=", "email"),
                ],
                order="id",
            )
        )
        result = {}
        for copy in copies:
            if copy.res_id == copy.carerix_mailbox_message_id.id:
                result.setdefault(copy.res_id, copy)
        return result

    def _carerix_export_zip(self, entries=None):
        """The bytes of a ZIP of ``entries`` (default: ``self``): one ``.eml``
        per mail (the original of a raw one, else rebuilt from the archive)
        and an index. Only for the *Data protection* group; no audit entry
        (the caller writes it)."""
        self._carerix_check_data_protection()
        entries = (self if entries is None else entries).sudo()
        raws = self._carerix_raw_originals(entries)
        copies = entries._carerix_mailbox_copies()
        mails = [
            entry._carerix_exported_mail(copies.get(entry.id), raws.get(entry))
            for entry in entries
        ]
        return build_zip(mails)

    def _carerix_exported_mail(self, copy, raw):
        """This entry as an :class:`ExportedMail`: from ``raw`` when stored raw,
        else from ``copy`` (its mailbox copy)."""
        self.ensure_one()
        mail = ExportedMail(
            owner=self.owner_id.name or "",
            date=self.date or None,
            subject=self.subject or "",
            from_=self.email_from or "",
            to=self.email_to or "",
            cc=self.email_cc or "",
            message_id=self.message_id_header or "",
            confidential=self.confidential,
            raw=raw,
        )
        if copy and raw is None:
            mail.references = tuple((copy.carerix_references or "").split())
            mail.html = str(copy.body or "")
            mail.attachments = [
                (att.name, att.mimetype, base64.b64decode(att.datas or b""))
                for att in copy.attachment_ids.sorted("id")
            ]
        return mail

    @api.model
    def _carerix_export_counts(self, entries):
        """The audit counts of an export of ``entries``."""
        entries = entries.sudo()
        return {
            "entries": len(entries),
            "messages": len(entries.copy_ids),
            "attachments": len(entries.copy_ids.attachment_ids),
            "owners": len(entries.owner_id),
        }
