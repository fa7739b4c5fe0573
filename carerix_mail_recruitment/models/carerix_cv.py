"""CVs from mail: the attachments of a candidate's mail that look like a CV
(PDF, DOC/DOCX, ODT, RTF) become documents of the candidate (``hr.candidate``)
and of his open applications (``hr.applicant``), where Odoo's own searches on
attachment content find them (indexed by ``attachment_indexation`` on create).

Privacy: a document of a candidate can be read by everyone who can read the
candidate, so only mail that is not private gives documents. When a mail is
made private later, the documents that only it gave are removed; when it is
made public, its CVs become documents (:meth:`HrCandidate._carerix_cv_resync`).
"""

import os
from collections import defaultdict
from email.utils import getaddresses

from odoo import api, fields, models
from odoo.tools import email_normalize

from .carerix_mailbox_message import OPEN_APPLICATION_DOMAIN

CV_EXTENSIONS = {".pdf", ".doc", ".docx", ".odt", ".rtf"}
CV_MIMETYPES = {
    "application/pdf",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.oasis.opendocument.text",
    "application/rtf",
    "text/rtf",
}


def looks_like_cv(filename, mimetype, inline=False):
    """Whether an attachment named ``filename`` of type ``mimetype`` is a CV:
    by its extension when it has one, else by its type. An inline part (an
    image in the body) never is; signatures (``.p7s``, ``.asc``) and images
    are not of these types."""
    if inline:
        return False
    extension = os.path.splitext((filename or "").strip().lower())[1]
    if extension:
        return extension in CV_EXTENSIONS
    return (mimetype or "").split(";")[0].strip().lower() in CV_MIMETYPES


def _from_candidate(candidate, emails):
    """Whether ``candidate`` (sudo) is the sender: one of ``emails`` (normalized)
    is his email or his contact's."""
    own = {candidate.email_normalized, candidate.partner_id.email_normalized}
    return bool((own - {False}) & emails)


def _emails(header):
    """The normalized addresses of an address header's value."""
    found = (email_normalize(email) for _name, email in getaddresses([header or ""]))
    return {email for email in found if email}


class IrAttachment(models.Model):
    _inherit = "ir.attachment"

    carerix_cv = fields.Boolean(
        "CV from mail",
        readonly=True,
        help="A document of a candidate or application taken from his mail.",
    )


class CarerixMailboxMessage(models.Model):
    _inherit = "carerix.mailbox.message"

    @api.model
    def _carerix_attach(self, batch, mails):
        """Also turn the CVs of the batch's mails from candidates into their
        documents, in bulk (see :meth:`_carerix_cv_from_batch`)."""
        result = super()._carerix_attach(batch, mails)
        self._carerix_cv_from_batch(batch, mails)
        return result

    @api.model
    def _carerix_erase_preview(self, entries):
        """Also count the CV documents that erasing ``entries`` removes."""
        counts = super()._carerix_erase_preview(entries)
        candidates, copies = self._carerix_cv_candidates_of(entries)
        if candidates:
            counts["attachments"] += len(candidates._carerix_cv_plan(copies)[0])
        return counts

    @api.model
    def _carerix_erase_entries(self, entries, *args, **kwargs):
        """Also remove the CV documents that the erased mail gave its
        candidates and their applications (unless another public mail from
        the candidate still carries the same file)."""
        candidates, _copies = self._carerix_cv_candidates_of(entries)
        counts = super()._carerix_erase_entries(entries, *args, **kwargs)
        if candidates:
            counts["attachments"] += candidates._carerix_cv_resync()
        return counts

    @api.model
    def _carerix_cv_candidates_of(self, entries):
        """``(candidates, copies)``: the candidates ``entries`` are archived on,
        and the copies there (sudo)."""
        copies = entries.sudo().copy_ids.filtered(lambda m: m.model == "hr.candidate")
        candidates = (
            self.env["hr.candidate"].sudo().browse(set(copies.mapped("res_id")))
        )
        return candidates, copies

    @api.model
    def _carerix_cv_from_batch(self, batch, mails):
        """The CVs of incoming, not private mails of ``mails`` archived on a
        candidate who sent them: documents of the candidate and of his open
        applications."""
        if batch.direction != "incoming":
            return
        pairs = []
        for mail in mails:
            candidates = mail.targets.get("hr.candidate")
            if mail.confidential or not mail.attachments or not candidates:
                continue
            emails = {a.email for a in mail.info.from_ if a.email}
            senders = candidates.filtered(lambda c, e=emails: _from_candidate(c, e))
            cvs = mail.attachments.browse(
                record.id
                for att, record in zip(
                    mail.parsed.attachments, mail.attachments, strict=True
                )
                if looks_like_cv(att.filename, att.content_type, att.inline)
            )
            if senders and cvs:
                pairs.extend((candidate, cvs) for candidate in senders)
        if pairs:
            self.env["hr.candidate"]._carerix_add_cv_documents(pairs)


class HrCandidate(models.Model):
    _inherit = "hr.candidate"

    @api.model
    def _carerix_add_cv_documents(self, pairs):
        """Make ``pairs`` (``[(candidate, attachments)]``) documents of each
        candidate and of his open applications, in one ``create``. A file the
        record has already (same checksum) is not added again; the bytes are
        stored once in the filestore (its path is the checksum) and indexed
        by Odoo on create. Returns the new attachments (sudo)."""
        Attachment = self.env["ir.attachment"].sudo()
        candidates = self.browse({c.id for c, _atts in pairs}).sudo()
        records = self._carerix_cv_records(candidates)
        existing = self._carerix_existing_files(
            [r for recs in records.values() for r in recs],
            {checksum for _c, atts in pairs for checksum in atts.mapped("checksum")},
        )
        vals_list = []
        for candidate, attachments in pairs:
            for source in attachments.sudo():
                for record in records[candidate.id]:
                    key = (record._name, record.id, source.checksum)
                    if key in existing:
                        continue
                    existing.add(key)
                    vals_list.append(
                        {
                            "name": source.name,
                            "raw": source.raw,
                            "mimetype": source.mimetype,
                            "res_model": record._name,
                            "res_id": record.id,
                            "carerix_cv": True,
                        }
                    )
        return Attachment.create(vals_list) if vals_list else Attachment

    @api.model
    def _carerix_cv_records(self, candidates):
        """``{candidate id: [candidate, his open applications...]}`` (sudo)."""
        records = {candidate.id: [candidate] for candidate in candidates}
        applicants = (
            self.env["hr.applicant"]
            .sudo()
            .search(
                [("candidate_id", "in", candidates.ids), *OPEN_APPLICATION_DOMAIN],
                order="id",
            )
        )
        for applicant in applicants:
            records[applicant.candidate_id.id].append(applicant)
        return records

    @api.model
    def _carerix_existing_files(self, records, checksums):
        """``{(model, id, checksum)}`` of the files of ``checksums`` that
        ``records`` have already as documents."""
        if not records or not checksums:
            return set()
        ids_by_model = defaultdict(list)
        for record in records:
            ids_by_model[record._name].append(record.id)
        domain = ["|"] * (len(ids_by_model) - 1)
        for model, ids in ids_by_model.items():
            domain += ["&", ("res_model", "=", model), ("res_id", "in", ids)]
        rows = (
            self.env["ir.attachment"]
            .sudo()
            .search_fetch(
                [("checksum", "in", list(checksums)), *domain],
                ["res_model", "res_id", "checksum"],
            )
        )
        return {(row.res_model, row.res_id, row.checksum) for row in rows}

    def _carerix_cv_resync(self):
        """Bring the CV documents (``carerix_cv``) of these candidates and their
        applications in line with the privacy of their mail: documents whose
        file no public mail from the candidate carries anymore are removed,
        CVs of public mail are added. Returns how many were removed."""
        stale, pairs = self._carerix_cv_plan()
        stale.unlink()
        self._carerix_add_cv_documents(pairs)
        return len(stale)

    def _carerix_cv_plan(self, without=None):
        """``(stale documents, pairs)`` of these candidates, as if the
        messages ``without`` were gone: the CV documents of the candidates and
        all their applications whose file no public mail from the candidate
        carries, and ``[(candidate, CVs)]`` of those mails."""
        candidates = self.sudo().exists()
        Attachment = self.env["ir.attachment"].sudo()
        if not candidates:
            return Attachment, []
        domain = [
            ("model", "=", "hr.candidate"),
            ("res_id", "in", candidates.ids),
            ("carerix_mailbox_message_id", "!=", False),
            ("carerix_direction", "=", "incoming"),
            ("carerix_confidential", "=", False),
            ("attachment_ids", "!=", False),
        ]
        if without:
            domain.append(("id", "not in", without.ids))
        pairs, kept = [], defaultdict(set)
        for message in self.env["mail.message"].sudo().search(domain):
            candidate = candidates.browse(message.res_id)
            emails = _emails(message.carerix_mailbox_message_id.email_from)
            if not _from_candidate(candidate, emails):
                continue
            # any file of it stays (a file chosen in Create candidate too)
            kept[candidate.id].update(message.attachment_ids.mapped("checksum"))
            cvs = message.attachment_ids.filtered(
                lambda a: looks_like_cv(a.name, a.mimetype)
            )
            if cvs:
                pairs.append((candidate, cvs))
        stale = Attachment.browse(
            document.id
            for document, candidate_id in self._carerix_cv_documents(candidates)
            if document.checksum not in kept[candidate_id]
        )
        return stale, pairs

    @api.model
    def _carerix_cv_documents(self, candidates):
        """``[(document, candidate id)]``: the CV documents of ``candidates``
        and of all their applications (sudo)."""
        applicants = (
            self.env["hr.applicant"]
            .sudo()
            .with_context(active_test=False)
            .search([("candidate_id", "in", candidates.ids)])
        )
        candidate_of = {("hr.candidate", c.id): c.id for c in candidates}
        candidate_of.update(
            {("hr.applicant", a.id): a.candidate_id.id for a in applicants}
        )
        documents = (
            self.env["ir.attachment"]
            .sudo()
            .search(
                [
                    ("carerix_cv", "=", True),
                    "|",
                    "&",
                    ("res_model", "=", "hr.candidate"),
                    ("res_id", "in", candidates.ids),
                    "&",
                    ("res_model", "=", "hr.applicant"),
                    ("res_id", "in", applicants.ids),
                ]
            )
        )
        return [(d, candidate_of[d.res_model, d.res_id]) for d in documents]


class MailMessage(models.Model):
    _inherit = "mail.message"

    def _carerix_apply_confidential(self, confidential):
        """A mail made private takes its CVs off the candidate's documents; a
        mail made public gives them."""
        result = super()._carerix_apply_confidential(confidential)
        on_candidates = self.sudo().filtered(lambda m: m.model == "hr.candidate")
        if on_candidates:
            self.env["hr.candidate"].browse(
                set(on_candidates.mapped("res_id"))
            )._carerix_cv_resync()
        return result
