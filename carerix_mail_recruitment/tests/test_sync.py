"""End to end: a candidate's mail delivered into Dovecot -> sync -> on his
application."""

from odoo.tests import tagged

from odoo.addons.carerix_mail.tests.common import SyncCase, make_mail, unique

from .common import make_applicant


@tagged("post_install", "-at_install")
class TestSyncOnApplications(SyncCase):
    def test_mail_from_applicant_archived_on_application(self):
        user_id, login, email = self.make_recruiter()
        cand_email = f"{unique('applicant')}@mail.example"
        with self.real_env() as env:
            applicant = make_applicant(env, "Anna de Vries", cand_email)
            applicant_id = applicant.id
            candidate_id = applicant.candidate_id.id
        self.dovecot.deliver(
            login,
            "INBOX",
            make_mail(f"Anna <{cand_email}>", email, "My application"),
        )
        health = self.sync(user_id)
        self.assertEqual(health["state"], "ok", health["last_error"])
        self.assertEqual(health["count_fetched"], 1)
        entry = self.entries(user_id)[0]
        self.assertEqual(entry["state"], "matched")
        copies = {(model, res_id) for model, res_id, _author in entry["copies"]}
        self.assertIn(("hr.applicant", applicant_id), copies)
        self.assertIn(("hr.candidate", candidate_id), copies)
        # A second sync archives nothing twice.
        self.sync(user_id)
        with self.real_env() as env:
            self.assertEqual(
                env["mail.message"].search_count(
                    [
                        ("model", "=", "hr.applicant"),
                        ("res_id", "=", applicant_id),
                        ("subject", "=", "My application"),
                    ]
                ),
                1,
            )
