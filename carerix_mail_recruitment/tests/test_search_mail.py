"""Search in mail on candidates and applications: found by the words of their
archived mail (body, subject, attachment names), private mail only by its
owner; excluded addresses are archived on no candidate or application."""

from lxml import etree

from odoo.tests import TransactionCase, new_test_user, tagged

from odoo.addons.carerix_mail.tests.common import make_mail

from .common import make_applicant, make_recruiter

PRIVATE_WORDS = ("PRIVSUBJ", "PRIVBODY", "privcv")
PUBLIC_WORDS = ("PUBSUBJ", "PUBBODY", "pubcv")


@tagged("post_install", "-at_install")
class TestSearchCandidateMail(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.owner = make_recruiter(env, "bsrch_owner")
        cls.colleague = make_recruiter(env, "bsrch_colleague")
        cls.manager = new_test_user(
            env,
            login="bsrch_manager",
            groups="base.group_user,base.group_system,"
            "hr_recruitment.group_hr_recruitment_manager",
        )
        cls.applicant = make_applicant(env, "Piet Jansen", "piet@mail.example")
        cls.candidate = cls.applicant.candidate_id
        box = cls.owner._carerix_mailbox(create=True)
        Entry = env["carerix.mailbox.message"]
        for subject, body, filename in (
            ("Application PUBSUBJ", "Hello PUBBODY", "pubcv.pdf"),
            ("Confidential PRIVSUBJ", "Salary PRIVBODY", "privcv.pdf"),
        ):
            Entry._archive_raw(
                box,
                make_mail(
                    "piet@mail.example",
                    cls.owner.email,
                    subject,
                    body,
                    attachments=[(filename, b"%PDF-1.4", "application/pdf")],
                ),
            )

    def found(self, user, model, word, operator):
        Model = self.env[model].with_user(user)
        record = self.candidate if model == "hr.candidate" else self.applicant
        domain = [("message_content", operator, word), ("id", "=", record.id)]
        groups = Model.read_group(domain, ["company_id"], ["company_id"])
        return (
            bool(Model.search(domain)),
            Model.search_count(domain),
            sum(group["company_id_count"] for group in groups),
            len(Model.name_search("", domain, limit=None)),
        )

    def test_private_mail_found_by_its_owner_only(self):
        for model in ("hr.candidate", "hr.applicant"):
            for word in PRIVATE_WORDS:
                for operator in ("ilike", "%"):
                    label = f"{model} {operator} {word}"
                    self.assertEqual(
                        self.found(self.owner, model, word, operator),
                        (True, 1, 1, 1),
                        label,
                    )
                    for user in (self.colleague, self.manager):
                        self.assertEqual(
                            self.found(user, model, word, operator),
                            (False, 0, 0, 0),
                            f"{user.login} {label}",
                        )

    def test_public_mail_found_by_all_recruiters(self):
        for model in ("hr.candidate", "hr.applicant"):
            for word in PUBLIC_WORDS:
                for user in (self.owner, self.colleague, self.manager):
                    self.assertEqual(
                        self.found(user, model, word, "%"),
                        (True, 1, 1, 1),
                        f"{user.login} {model} {word}",
                    )

    def test_search_views_offer_the_field(self):
        for model in ("hr.candidate", "hr.applicant"):
            view = (
                self.env[model].with_user(self.colleague).get_view(view_type="search")
            )
            arch = etree.fromstring(view["arch"])
            (node,) = arch.xpath("//field[@name='message_content']")
            self.assertEqual(node.get("operator"), "%")

    def test_excluded_candidate_gets_no_mail(self):
        applicant = make_applicant(self.env, "Bank Clerk", "clerk@bank.example")
        self.env.company.carerix_excluded_addresses = "bank.example"
        entry = self.env["carerix.mailbox.message"]._archive_raw(
            self.owner._carerix_mailbox(),
            make_mail("clerk@bank.example", self.owner.email, "Statement"),
        )
        self.assertEqual(entry.state, "excluded")
        self.assertEqual(entry.copy_ids.mapped("model"), ["carerix.mailbox.message"])
        for record in (applicant, applicant.candidate_id):
            self.assertFalse(
                record.message_ids.filtered("carerix_mailbox_message_id"),
                record._name,
            )
