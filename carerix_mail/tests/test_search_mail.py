"""Search in mail (OCA base_search_mail_content's ``message_content``): a
contact is found by the words of its archived mail (body, subject, attachment
names), private mail only by its owner, through every search path."""

from lxml import etree

from odoo.tests import TransactionCase, new_test_user, tagged

from .common import make_mail

RECRUITER = "base.group_user,base.group_partner_manager"
PRIVATE_WORDS = ("PRIVSUBJ", "PRIVBODY", "privfile")
PUBLIC_WORDS = ("PUBSUBJ", "PUBBODY", "pubfile")


@tagged("post_install", "-at_install")
class TestSearchMail(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.owner = new_test_user(
            env, login="srch_owner", email="srch@agency.example", groups=RECRUITER
        )
        cls.recruiter = new_test_user(env, login="srch_other", groups=RECRUITER)
        cls.admin = new_test_user(
            env, login="srch_admin", groups="base.group_user,base.group_system"
        )
        cls.client = env["res.partner"].create({"name": "Client", "is_company": True})
        cls.contact = env["res.partner"].create(
            {"name": "Jan", "email": "jan@client.example", "parent_id": cls.client.id}
        )
        # a portal user of the client reads the client and its contacts
        cls.portal = new_test_user(env, login="srch_portal", groups="base.group_portal")
        cls.portal.partner_id.parent_id = cls.client
        box = cls.owner._carerix_mailbox(create=True)
        Entry = env["carerix.mailbox.message"]
        cls.public = Entry._archive_raw(
            box,
            make_mail(
                "jan@client.example",
                cls.owner.email,
                "Interview planning for PUBSUBJ next week",
                "Dear recruiter, PUBBODY.",
                attachments=[("pubfile.pdf", b"%PDF-1.4", "application/pdf")],
            ),
        )
        cls.private = Entry._archive_raw(
            box,
            make_mail(
                "jan@client.example",
                cls.owner.email,
                "Confidential: PRIVSUBJ",
                "My salary: PRIVBODY.",
                attachments=[("privfile.pdf", b"%PDF-1.4", "application/pdf")],
            ),
        )
        cls.client.message_post(body="NOTEWORD", subtype_xmlid="mail.mt_note")

    def test_fixture(self):
        self.assertTrue(self.private.confidential)
        self.assertFalse(self.public.confidential)
        self.assertEqual(self.private.partner_ids, self.contact | self.client)

    def found(self, user, word, operator="ilike"):
        """The contacts ``user`` finds by ``word``, through each search path:
        ``{path: set of partners}``."""
        Partner = self.env["res.partner"].with_user(user)
        domain = [
            ("message_content", operator, word),
            ("id", "in", (self.contact | self.client).ids),
        ]
        by_group = Partner.read_group(domain, ["is_company"], ["is_company"])
        return {
            "search": set(Partner.search(domain).ids),
            "count": Partner.search_count(domain),
            "read_group": sum(group["is_company_count"] for group in by_group),
            "name_search": {
                pid for pid, _name in Partner.name_search("", domain, limit=None)
            },
            "web_search_read": {
                row["id"]
                for row in Partner.web_search_read(domain, {"display_name": {}})[
                    "records"
                ]
            },
        }

    def assert_found(self, user, word, partners, operator="ilike"):
        ids = set(partners.ids)
        self.assertEqual(
            self.found(user, word, operator),
            {
                "search": ids,
                "count": len(ids),
                "read_group": len(ids),
                "name_search": ids,
                "web_search_read": ids,
            },
            f"{user.login} {operator} {word}",
        )

    def test_private_mail_found_by_its_owner_only(self):
        both = self.contact | self.client
        nothing = self.env["res.partner"]
        for word in PRIVATE_WORDS:
            for operator in ("ilike", "%"):
                self.assert_found(self.owner, word, both, operator)
                for user in (self.recruiter, self.admin, self.portal):
                    self.assert_found(user, word, nothing, operator)

    def test_public_mail_found_by_all(self):
        both = self.contact | self.client
        for word in PUBLIC_WORDS:
            for operator in ("ilike", "%"):
                for user in (self.owner, self.recruiter, self.admin, self.portal):
                    self.assert_found(user, word, both, operator)

    def test_internal_note_not_found_by_portal(self):
        for user in (self.owner, self.recruiter, self.admin):
            self.assert_found(user, "NOTEWORD", self.client)
        self.assert_found(self.portal, "NOTEWORD", self.env["res.partner"])

    def test_negative_operator(self):
        """``not ilike``: the records without a visible message with the
        word; for another user the private mail is as if it did not exist."""
        domain = [
            ("message_content", "not ilike", "PRIVBODY"),
            ("id", "in", (self.contact | self.client).ids),
        ]
        Partner = self.env["res.partner"]
        self.assertFalse(Partner.with_user(self.owner).search(domain))
        self.assertEqual(
            Partner.with_user(self.recruiter).search(domain),
            self.contact | self.client,
        )

    def test_positive_operator_needs_the_word(self):
        """OCA applies the negation of ``ilike`` inside ``any``: any record
        with a message without the word matched. Not here."""
        other = self.env["res.partner"].create({"name": "Unrelated"})
        other.message_post(body="Nothing to see", subtype_xmlid="mail.mt_note")
        Partner = self.env["res.partner"].with_user(self.recruiter)
        self.assertFalse(
            Partner.search(
                [("message_content", "ilike", "PUBBODY"), ("id", "=", other.id)]
            )
        )

    def test_search_views_offer_the_field(self):
        for model in ("res.partner", "carerix.mailbox.message"):
            view = (
                self.env[model].with_user(self.recruiter).get_view(view_type="search")
            )
            arch = etree.fromstring(view["arch"])
            (node,) = arch.xpath("//field[@name='message_content']")
            self.assertEqual(node.get("operator"), "%")
