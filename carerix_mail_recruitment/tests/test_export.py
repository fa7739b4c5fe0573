"""*Export this person's mail* from a candidate: his address and his
contact's are the person's, for the Data protection group only."""

import io
import zipfile

from odoo.exceptions import AccessError
from odoo.tests import TransactionCase, new_test_user, tagged

from odoo.addons.carerix_mail.tests.common import make_mail

from .common import make_applicant, make_recruiter


@tagged("post_install", "-at_install")
class TestExportCandidate(TransactionCase):
    def test_export_from_candidate(self):
        owner = make_recruiter(self.env, "exp_cand_owner")
        recruiter = make_recruiter(self.env, "exp_cand_other")
        dp = new_test_user(
            self.env,
            login="exp_cand_dp",
            groups="base.group_user,carerix_mail.group_data_protection,"
            "hr_recruitment.group_hr_recruitment_user",
        )
        box = owner._carerix_mailbox(create=True)
        candidate = make_applicant(self.env, "Anna", "anna@mail.example").candidate_id
        Entry = self.env["carerix.mailbox.message"]
        Entry._archive_raw(box, make_mail("anna@mail.example", owner.email, "ANNACV"))
        Entry._archive_raw(box, make_mail("bob@mail.example", owner.email, "BOBCV"))
        action = self.env.ref(
            "carerix_mail_recruitment.carerix_mail_export_wizard_action_candidate"
        )
        self.assertEqual(action.binding_model_id.model, "hr.candidate")
        Wizard = self.env["carerix.mail.export.wizard"].with_context(
            active_model="hr.candidate", active_ids=candidate.ids
        )
        with self.assertRaises(AccessError):
            Wizard.with_user(recruiter).create({})
        wizard = Wizard.with_user(dp).create({})
        self.assertEqual(wizard.candidate_ids, candidate)
        self.assertEqual(wizard.email_list, "anna@mail.example")
        # a Data protection member without Recruitment still exports by address
        dp_only = new_test_user(
            self.env,
            login="exp_cand_dp_only",
            groups="base.group_user,carerix_mail.group_data_protection",
        )
        plain = self.env["carerix.mail.export.wizard"].with_user(dp_only)
        self.assertEqual(
            plain.create({"extra_emails": "anna@mail.example"}).entry_count, 1
        )
        _name, data = wizard._carerix_export()
        archive = zipfile.ZipFile(io.BytesIO(data))
        content = b"".join(archive.read(name) for name in archive.namelist())
        self.assertIn(b"ANNACV", content)
        self.assertNotIn(b"BOBCV", content)
