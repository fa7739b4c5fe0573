"""Retention of archived mail with candidates (extends hr.candidate).

When a company switches it on (``res.company.carerix_retention_enabled``,
after a dry run), a daily cron deletes the archived mail of its candidates
who have been *inactive* for ``carerix_retention_months`` months. A candidate
is inactive since the cut-off date (now minus N months) when all of these
hold:

- the candidate record was created and last changed before the cut-off;
- none of his applications (open, refused, archived or hired) changed after
  the cut-off (a stage change, a refusal, any edit);
- none of his applications is open (active, not refused, not hired);
- no message (archived mail, note, log) was posted after the cut-off on
  him, on any of his applications, or on his contact;
- he did not become an employee (a linked ``hr.employee`` keeps the mail:
  it is HR's to manage from then on).

What goes: every synced mail archived on his records (the candidate, his
applications, his contact unless another, active candidate or a user shares
it). A mail archived on his records only (besides the owner's *My mail*) is
erased whole, for every owner, with a tombstone so that a later sync does not
bring it back (``_carerix_erase_entries``). A mail also archived on other
records (another candidate, a client contact) concerns those people too: it
stays, without the copies on the inactive candidate's records.
"""

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.tools import SQL

RETENTION_BATCH = 2000
"""Mails handled per call of the cron (a bounded batch; the cron runner
commits after each call and calls again while some are left). About 1.6 s a
batch at 100,000 archived mails, a third of it finding the inactive
candidates and their mail again (``bench/bench_retention.py``)."""

_EXPIRED_CANDIDATES = """
SELECT c.id, c.partner_id FROM hr_candidate c
 WHERE c.company_id = %(company)s AND c.employee_id IS NULL
   AND c.create_date < %(cutoff)s AND c.write_date < %(cutoff)s
   AND NOT EXISTS (
       SELECT 1 FROM hr_applicant a
        WHERE a.candidate_id = c.id
          AND (a.write_date >= %(cutoff)s
               OR a.date_last_stage_update >= %(cutoff)s
               OR (a.active AND a.refuse_reason_id IS NULL
                   AND a.date_closed IS NULL)))
   AND NOT EXISTS (
       SELECT 1 FROM mail_message m
        WHERE m.date >= %(cutoff)s
          AND ((m.model = 'hr.candidate' AND m.res_id = c.id)
               OR (m.model = 'res.partner' AND m.res_id = c.partner_id)
               OR (m.model = 'hr.applicant' AND m.res_id IN (
                       SELECT a.id FROM hr_applicant a
                        WHERE a.candidate_id = c.id))))
 ORDER BY c.id
"""


def _on_records(alias, records):
    """SQL: the message ``alias`` is on one of ``records`` (``{model: ids}``)."""
    return SQL(" OR ").join(
        SQL(
            "(%s.model = %s AND %s.res_id = ANY(%s))",
            SQL(alias),
            model,
            SQL(alias),
            ids,
        )
        for model, ids in records.items()
    )


class RetentionPlan:
    """What retention deletes now for one company: the inactive candidates,
    their records, and the mails archived on them (entry ids, in order),
    each erased ``whole`` or only its copies on those records."""

    def __init__(self, company, cutoff):
        self.company = company
        self.cutoff = cutoff
        self.candidates = []  # ids of the inactive candidates
        self.records = {}  # {model: [ids]} of their records
        self.entries = []  # [(entry id, whole)]
        self.concerned = set()  # ids of the candidates with mail that goes

    def counts(self):
        """The dry-run figures: candidates with mail, mails erased whole,
        mails losing their copies on the candidates' records."""
        whole = sum(1 for _entry, is_whole in self.entries if is_whole)
        return {
            "candidates": len(self.concerned),
            "entries": whole,
            "partial": len(self.entries) - whole,
        }


class HrCandidate(models.Model):
    _inherit = "hr.candidate"

    @api.model
    def _carerix_retention_plan(self, company, months):
        """The :class:`RetentionPlan` of ``company`` for ``months`` months."""
        cutoff = fields.Datetime.now() - relativedelta(months=months)
        plan = RetentionPlan(company, cutoff)
        self.env.flush_all()
        cr = self.env.cr
        cr.execute(SQL(_EXPIRED_CANDIDATES, company=company.id, cutoff=cutoff))
        rows = cr.fetchall()
        plan.candidates = [row[0] for row in rows]
        if not plan.candidates:
            return plan
        cr.execute(
            SQL(
                "SELECT id, candidate_id FROM hr_applicant "
                "WHERE candidate_id = ANY(%s)",
                plan.candidates,
            )
        )
        applicants = cr.fetchall()
        owner = {("hr.candidate", cid): cid for cid in plan.candidates}
        owner.update({("hr.applicant", aid): cid for aid, cid in applicants})
        partners = self._carerix_retention_partners(rows)
        owner.update({("res.partner", pid): cid for pid, cid in partners.items()})
        plan.records = {
            "hr.candidate": plan.candidates,
            "hr.applicant": [aid for aid, _cid in applicants],
            "res.partner": list(partners),
        }
        plan.entries, plan.concerned = self._carerix_retention_entries(
            plan.records, owner
        )
        return plan

    @api.model
    def _carerix_retention_partners(self, rows):
        """``{partner id: candidate id}`` of the contacts of the inactive
        candidates ``rows`` (``(id, partner_id)``) that are theirs alone: no
        other candidate (active or not) and no user has them."""
        by_partner = {pid: cid for cid, pid in rows if pid}
        if not by_partner:
            return {}
        self.env.cr.execute(
            SQL(
                """
                SELECT partner_id FROM hr_candidate
                 WHERE partner_id = ANY(%(p)s) AND NOT id = ANY(%(c)s)
                 UNION
                SELECT partner_id FROM res_users WHERE partner_id = ANY(%(p)s)
                """,
                p=list(by_partner),
                c=[cid for cid, _pid in rows],
            )
        )
        for (partner_id,) in self.env.cr.fetchall():
            by_partner.pop(partner_id, None)
        return by_partner

    @api.model
    def _carerix_retention_entries(self, records, owner):
        """``([(entry id, whole)], candidate ids)``: the synced mails with a
        copy on ``records``, ``whole`` when no copy is on another record (the
        owner's mailbox copy aside), and the candidates (``owner``: ``{(model,
        id): candidate id}``) whose records have those copies."""
        cr = self.env.cr
        cr.execute(
            SQL(
                """
                SELECT DISTINCT model, res_id FROM mail_message m
                 WHERE carerix_mailbox_message_id IS NOT NULL AND (%s)
                """,
                _on_records("m", records),
            )
        )
        concerned = {owner[model, res_id] for model, res_id in cr.fetchall()}
        cr.execute(
            SQL(
                """
                WITH hit AS (
                    SELECT DISTINCT carerix_mailbox_message_id AS entry
                      FROM mail_message m
                     WHERE carerix_mailbox_message_id IS NOT NULL AND (%(on)s))
                SELECT m.carerix_mailbox_message_id, bool_and(%(on)s)
                  FROM mail_message m
                  JOIN hit ON hit.entry = m.carerix_mailbox_message_id
                 WHERE m.model != %(entry_model)s
                 GROUP BY 1 ORDER BY 1
                """,
                on=_on_records("m", records),
                entry_model="carerix.mailbox.message",
            )
        )
        return cr.fetchall(), concerned

    @api.model
    def _carerix_retention_apply(self, plan, limit):
        """Delete the first ``limit`` mails of ``plan``; returns the audit
        counts of what went, with ``whole`` (mails erased whole)."""
        todo = plan.entries[:limit]
        whole_ids = [eid for eid, whole in todo if whole]
        partial_ids = [eid for eid, whole in todo if not whole]
        Entry = self.env["carerix.mailbox.message"].sudo()
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "SELECT DISTINCT owner_id FROM carerix_mailbox_message "
                "WHERE id = ANY(%s)",
                [eid for eid, _whole in todo],
            )
        )
        owners = len(self.env.cr.fetchall())
        counts = Entry._carerix_erase_entries(Entry.browse(whole_ids), tombstone=True)
        counts["messages"] += self._carerix_retention_strip(plan, partial_ids)
        counts.update(entries=len(todo), whole=counts["entries"], owners=owners)
        return counts

    @api.model
    def _carerix_retention_strip(self, plan, entry_ids):
        """Remove from the mails ``entry_ids`` their copies on the records of
        ``plan`` (the mails stay on their other records). Their attachments
        then point at a remaining copy, one on a record first. Returns the
        number of copies removed."""
        if not entry_ids:
            return 0
        cr = self.env.cr
        cr.execute(
            SQL(
                """
                SELECT m.id FROM mail_message m
                 WHERE m.carerix_mailbox_message_id = ANY(%s) AND (%s)
                """,
                entry_ids,
                _on_records("m", plan.records),
            )
        )
        gone = [row[0] for row in cr.fetchall()]
        cr.execute(
            SQL(
                """
                UPDATE ir_attachment a SET res_id = k.keep
                  FROM (SELECT m.id AS gone,
                               (SELECT s.id FROM mail_message s
                                 WHERE s.carerix_mailbox_message_id
                                       = m.carerix_mailbox_message_id
                                   AND NOT s.id = ANY(%(gone)s)
                                 ORDER BY s.model = %(entry_model)s, s.id
                                 LIMIT 1) AS keep
                          FROM mail_message m WHERE m.id = ANY(%(gone)s)) k
                 WHERE a.res_model = 'mail.message' AND a.res_id = k.gone
                   AND k.keep IS NOT NULL
                """,
                gone=gone,
                entry_model="carerix.mailbox.message",
            )
        )
        cr.execute(
            SQL(
                """
                DELETE FROM carerix_mailbox_message_res_partner_rel
                 WHERE carerix_mailbox_message_id = ANY(%s)
                   AND res_partner_id = ANY(%s)
                """,
                entry_ids,
                plan.records.get("res.partner", []),
            )
        )
        self.env.invalidate_all()
        self.env["mail.message"].sudo().browse(gone).unlink()
        return len(gone)

    @api.model
    def _cron_carerix_retention(self, batch_size=RETENTION_BATCH):
        """Apply retention of the companies that switched it on, to at most
        ``batch_size`` mails, and report the progress: Odoo's cron runner
        commits and calls again while mails are left. One audit entry per
        company and call. Returns the number of mails handled."""
        companies = (
            self.env["res.company"]
            .sudo()
            .search([("carerix_retention_enabled", "=", True)])
        )
        done = remaining = 0
        for company in companies:
            plan = self._carerix_retention_plan(
                company, company.carerix_retention_months
            )
            limit = max(batch_size - done, 0)
            if limit:
                counts = self._carerix_retention_apply(plan, limit)
                self.env["carerix.mail.privacy.log"]._log("retention", (), counts)
                done += counts["entries"]
            remaining += max(len(plan.entries) - limit, 0)
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
        return done
