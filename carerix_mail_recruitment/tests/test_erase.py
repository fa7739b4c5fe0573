"""*Erase this person* opened on a candidate: his contact's and his own
address, and his archived mail (on the candidate and his application)
erased."""

from odoo.exceptions import AccessError
from odoo.tests import TransactionCase, new_test_user, tagged

from odoo.addons.carerix_mail.tests.common import make_mail

from .common import make_applicant, make_recruiter


@tagged("post_install", "-at_install")
class TestEraseCandidate(TransactionCase):
    def test_erase_opened_on_a_candidate(self):
        recruiter = make_recruiter(self.env, "erase_cand_rec")
        box = recruiter._carerix_mailbox(create=True)
        applicant = make_applicant(self.env, "Cand Erase", "cand.erase@mail.example")
        candidate = applicant.candidate_id
        candidate.partner_id.email = "Cand <cand.erase.private@mail.example>"
        Entry = self.env["carerix.mailbox.message"]
        entry = Entry._archive_raw(
            box, make_mail("cand.erase@mail.example", recruiter.email, "My CV")
        )
        self.assertIn(
            ("hr.candidate", candidate.id),
            {(m.model, m.res_id) for m in entry.copy_ids},
        )
        officer = new_test_user(
            self.env, login="erase_cand_dp", groups="carerix_mail.group_data_protection"
        )
        Wizard = (
            self.env["carerix.mail.erase.wizard"]
            .with_user(officer)
            .with_context(active_model="hr.candidate", active_ids=candidate.ids)
        )
        wizard = Wizard.create({})
        self.assertEqual(wizard.partner_ids, candidate.partner_id)
        self.assertEqual(
            wizard.emails.split(),
            ["cand.erase.private@mail.example", "cand.erase@mail.example"],
        )
        self.assertEqual((wizard.entry_count, wizard.owner_count), (1, 1))
        self.assertEqual(wizard.message_count, len(entry.copy_ids))
        copies = entry.copy_ids
        wizard.action_erase()
        self.assertFalse(entry.exists() or copies.exists())
        self.assertFalse(candidate.message_ids & copies)
        with self.assertRaises(AccessError):
            Wizard.with_user(recruiter).create({})
