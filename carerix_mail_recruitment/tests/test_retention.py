"""Retention: archived mail with candidates inactive for N months goes (a mail
that concerns other people only loses the candidate's copies); off by
default; switched on only after a dry run, which counts exactly what the run
deletes; the cron works in bounded batches and reports its progress."""

from datetime import timedelta

from odoo import fields
from odoo.exceptions import ValidationError
from odoo.tests import TransactionCase, tagged

from odoo.addons.carerix_mail.tests.common import make_mail

from .common import make_applicant, make_recruiter

OLD = timedelta(days=400)  # older than the 6 months of these tests


@tagged("post_install", "-at_install")
class TestRetention(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.company = env.company
        cls.owner = make_recruiter(env, "ret_owner")
        cls.box = cls.owner._carerix_mailbox(create=True)
        cls.Entry = env["carerix.mailbox.message"]
        cls.Candidate = env["hr.candidate"]
        env.cr.execute("SELECT COALESCE(MAX(id), 0) FROM mail_message")
        first_message = env.cr.fetchone()[0]
        cls.client = env["res.partner"].create(
            {"name": "Client", "email": "client@corp.example"}
        )
        cls.people, cls.raws = {}, {}
        for key in ("old", "quiet", "open", "recent", "staged"):
            applicant = make_applicant(env, key.title(), f"{key}@mail.example")
            cls.people[key] = applicant
        cls.candidates = {k: a.candidate_id for k, a in cls.people.items()}
        cls.people.pop("quiet").unlink()  # a candidate without applications
        cls.mails = {
            key: cls.archive(f"{key}@mail.example", key) for key in cls.candidates
        }
        cls.mails["old2"] = cls.archive("old@mail.example", "old second")
        cls.shared = cls.archive(
            "old@mail.example",
            "shared",
            cc="client@corp.example",
            attachments=[("contract.pdf", b"%PDF contract", "application/pdf")],
        )
        reason = env["hr.applicant.refuse.reason"].search([], limit=1)
        for key in ("old", "recent", "staged"):
            cls.people[key].write({"refuse_reason_id": reason.id, "active": False})
        cls._backdate(first_message)
        # activity after the cut-off
        cls.candidates["recent"].message_post(body="Called him")
        env.cr.execute(
            "UPDATE hr_applicant SET write_date = now() WHERE id = %s",
            [cls.people["staged"].id],
        )

    @classmethod
    def archive(cls, sender, subject, **kwargs):
        raw = make_mail(sender, cls.owner.email, subject, **kwargs)
        entry = cls.Entry._archive_raw(cls.box, raw)
        cls.raws[entry.id] = raw
        return entry

    @classmethod
    def _backdate(cls, first_message):
        """Everything made here happened long ago."""
        old = fields.Datetime.now() - OLD
        cls.env.flush_all()
        candidates = [c.id for c in cls.candidates.values()]
        applicants = [a.id for a in cls.people.values()]
        for table, ids in (("hr_candidate", candidates), ("hr_applicant", applicants)):
            cls.env.cr.execute(
                f"UPDATE {table} SET create_date = %s, write_date = %s "  # noqa: S608
                "WHERE id = ANY(%s)",
                [old, old, ids],
            )
        cls.env.cr.execute(
            "UPDATE hr_applicant SET date_last_stage_update = %s WHERE id = ANY(%s)",
            [old, applicants],
        )
        cls.env.cr.execute(
            "UPDATE mail_message SET date = %s WHERE id > %s", [old, first_message]
        )
        cls.env.invalidate_all()

    def kept(self, entry):
        return bool(self.Entry.browse(entry.id).exists())

    def run_all(self, batch_size):
        """Run the cron until nothing is left; ``[(done, remaining)]`` per call
        and the union of the candidates concerned."""
        cron = self.env.ref(
            "carerix_mail_recruitment.hr_candidate_cron_carerix_retention"
        )
        calls = []
        for _i in range(50):
            progress = self.env["ir.cron.progress"].create({"cron_id": cron.id})
            self.Candidate.with_context(
                ir_cron_progress_id=progress.id
            )._cron_carerix_retention(batch_size=batch_size)
            calls.append((progress.done, progress.remaining))
            if not progress.remaining:
                return calls
        self.fail("retention did not finish")

    def switch_on(self, months=6):
        counts = self.company._carerix_retention_dry_run(months)
        self.company.write(
            {"carerix_retention_enabled": True, "carerix_retention_months": months}
        )
        return counts

    def test_off_by_default_deletes_nothing(self):
        self.assertFalse(self.company.carerix_retention_enabled)
        count = self.Entry.search_count([])
        self.assertEqual(self.run_all(batch_size=10), [(0, 0)])
        self.assertEqual(self.Entry.search_count([]), count)

    def test_switching_on_needs_a_dry_run_for_the_months(self):
        with self.assertRaisesRegex(ValidationError, "Compute what would be deleted"):
            self.company.write(
                {"carerix_retention_enabled": True, "carerix_retention_months": 6}
            )
        self.switch_on(6)
        with self.assertRaisesRegex(ValidationError, "12 months"):
            self.company.carerix_retention_months = 12
        self.company.write({"carerix_retention_checked_date": "2000-01-01"})
        with self.assertRaises(ValidationError):  # a dry run of long ago
            self.company.write({"carerix_retention_enabled": False})
            self.company.write({"carerix_retention_enabled": True})

    def test_settings_dry_run_then_switch_on(self):
        views = self.env["res.config.settings"].get_views([(False, "form")])
        arch = views["views"]["form"]["arch"]
        self.assertIn('name="action_carerix_retention_dry_run"', arch)
        self.assertIn('name="carerix_retention_enabled"', arch)
        settings = self.env["res.config.settings"].create(
            {"carerix_retention_months": 6}
        )
        settings.action_carerix_retention_dry_run()
        self.assertEqual(self.company.carerix_retention_checked_months, 6)
        self.assertEqual(settings.carerix_retention_checked_mails, 3)
        settings.carerix_retention_enabled = True
        settings.execute()
        self.assertTrue(self.company.carerix_retention_enabled)
        self.assertEqual(self.company.carerix_retention_months, 6)

    def test_dry_run_equals_the_real_run(self):
        counts = self.switch_on(6)
        self.assertEqual(counts, {"candidates": 2, "entries": 3, "partial": 1})
        log = self.env["carerix.mail.privacy.log"]
        before = log.search([])
        calls = self.run_all(batch_size=1)
        self.assertEqual(calls, [(1, 3), (1, 2), (1, 1), (1, 0)])
        logs = log.search([]) - before
        self.assertEqual(set(logs.mapped("action")), {"retention"})
        self.assertEqual(sum(logs.mapped("entry_count")), 4)
        self.assertEqual(self.company._carerix_retention_dry_run(6)["entries"], 0)
        for key in ("old", "quiet", "old2"):
            self.assertFalse(self.kept(self.mails[key]), key)
        for key in ("open", "recent", "staged"):
            self.assertTrue(self.kept(self.mails[key]), key)

    def test_mail_with_other_people_loses_only_the_candidates_copies(self):
        self.switch_on(6)
        candidate = self.candidates["old"]
        self.run_all(batch_size=10)
        shared = self.Entry.browse(self.shared.id)
        self.assertTrue(shared.exists())
        on = {(m.model, m.res_id) for m in shared.copy_ids}
        self.assertNotIn(("hr.candidate", candidate.id), on)
        self.assertNotIn(("res.partner", candidate.partner_id.id), on)
        self.assertIn(("res.partner", self.client.id), on)
        self.assertEqual(shared.partner_ids, self.client)
        client_copy = shared.copy_ids.filtered(lambda m: m.model == "res.partner")
        attachment = client_copy.attachment_ids
        self.assertEqual(attachment.raw, b"%PDF contract")
        self.assertIn(attachment.res_id, shared.copy_ids.ids)

    def test_erased_mail_does_not_come_back(self):
        self.switch_on(6)
        self.run_all(batch_size=10)
        again = self.Entry._archive_raw(self.box, self.raws[self.mails["old"].id])
        self.assertFalse(again)

    def test_bounded_batches_report_progress(self):
        self.switch_on(6)
        cron = self.env.ref(
            "carerix_mail_recruitment.hr_candidate_cron_carerix_retention"
        )
        progress = self.env["ir.cron.progress"].create({"cron_id": cron.id})
        done = self.Candidate.with_context(
            ir_cron_progress_id=progress.id
        )._cron_carerix_retention(batch_size=2)
        self.assertEqual(done, 2)
        self.assertEqual((progress.done, progress.remaining), (2, 2))
        plan = self.Candidate._carerix_retention_plan(self.company, 6)
        self.assertEqual(len(plan.entries), 2)
