"""Excluded addresses: the company's and the user's lists, and mail between
colleagues, are never archived on records; the entry stays in My mail with the
state Excluded."""

from email.utils import make_msgid
from unittest.mock import patch

from lxml import etree

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import TransactionCase, new_test_user, tagged

from odoo.addons.carerix_mail.models.carerix_mail_excluded import (
    clean_excluded,
    is_excluded,
    parse_excluded,
)

from .common import SyncCase, make_mail, unique
from .test_outgoing import SentFolderCase

GROUPS = "base.group_user,base.group_partner_manager"


@tagged("post_install", "-at_install")
class TestExcludedList(TransactionCase):
    def test_entries_normalized_and_invalid_ones_named(self):
        text = "NoReply@Bank.Example, @Clinic.Example;\n  hr.example.\n"
        self.assertEqual(
            clean_excluded(text), "noreply@bank.example\nclinic.example\nhr.example"
        )
        self.assertFalse(clean_excluded("  \n "))
        with self.assertRaises(ValidationError) as caught:
            clean_excluded("ok.example\nlocalhost\nbad@@x\nsp ace@x.example")
        message = str(caught.exception)
        for entry in ("localhost", "bad@@x", "sp"):
            self.assertIn(entry, message)
        self.assertNotIn("ok.example", message)

    def test_domain_covers_its_subdomains_only(self):
        addresses, domains, invalid = parse_excluded("bank.example a@b.example")
        self.assertEqual(invalid, [])
        self.assertTrue(is_excluded("x@bank.example", addresses, domains))
        self.assertTrue(is_excluded("x@mail.bank.example", addresses, domains))
        self.assertFalse(is_excluded("x@notbank.example", addresses, domains))
        self.assertFalse(is_excluded("x@bank.example.org", addresses, domains))
        self.assertTrue(is_excluded("a@b.example", addresses, domains))
        self.assertFalse(is_excluded("c@b.example", addresses, domains))

    def test_company_list_saved_normalized_from_settings(self):
        settings = self.env["res.config.settings"].create(
            {"carerix_excluded_addresses": "@Bank.Example\nnoreply@x.example"}
        )
        settings.execute()
        self.assertEqual(
            self.env.company.carerix_excluded_addresses,
            "noreply@x.example\nbank.example",
        )
        self.assertTrue(self.env.company.carerix_exclude_colleagues)  # default on
        with self.assertRaises(ValidationError):
            self.env.company.carerix_excluded_addresses = "not an address"

    def test_personal_list_is_the_users_own(self):
        user = new_test_user(self.env, login="excl_own", groups=GROUPS)
        other = new_test_user(self.env, login="excl_other", groups=GROUPS)
        user._carerix_mailbox(create=True)
        user.with_user(user).write(
            {"mailbox_excluded_addresses": "Doctor@Clinic.Example"}
        )
        self.assertEqual(
            user._carerix_mailbox().excluded_addresses, "doctor@clinic.example"
        )
        self.assertEqual(
            user.with_user(user).mailbox_excluded_addresses, "doctor@clinic.example"
        )
        # another user reads no list and cannot write one
        self.assertFalse(user.with_user(other).mailbox_excluded_addresses)
        with self.assertRaises(AccessError):
            user.with_user(other).write({"mailbox_excluded_addresses": "a.example"})
        with self.assertRaises(ValidationError):
            user.with_user(user).write({"mailbox_excluded_addresses": "nodot"})

    def test_views_show_the_lists_and_the_filter(self):
        search = self.env["carerix.mailbox.message"].get_view(view_type="search")
        arch = etree.fromstring(search["arch"])
        (node,) = arch.xpath("//filter[@name='excluded']")
        self.assertEqual(node.get("domain"), "[('state', '=', 'excluded')]")
        listing = self.env["carerix.mailbox.message"].get_view(view_type="list")
        self.assertEqual(
            etree.fromstring(listing["arch"]).get("decoration-muted"),
            "state in ('raw', 'excluded')",
        )
        settings = self.env["res.config.settings"].get_view(view_type="form")
        self.assertIn('name="carerix_excluded_addresses"', settings["arch"])
        self.assertIn('name="carerix_exclude_colleagues"', settings["arch"])
        for xmlid in ("base.view_users_form", "base.view_users_form_simple_modif"):
            view = self.env["res.users"].get_view(self.env.ref(xmlid).id)
            self.assertIn('name="mailbox_excluded_addresses"', view["arch"])


@tagged("post_install", "-at_install")
class TestExcludedArchive(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.Entry = env["carerix.mailbox.message"]
        env.company.carerix_excluded_addresses = "bank.example\nnoreply@shop.example"
        cls.employer = env["res.partner"].create({"name": "Bank", "is_company": True})
        cls.banker = env["res.partner"].create(
            {
                "name": "Banker",
                "email": "banker@mail.bank.example",
                "parent_id": cls.employer.id,
            }
        )
        cls.shop = env["res.partner"].create(
            {"name": "Shop", "email": "noreply@shop.example"}
        )
        cls.sales = env["res.partner"].create(
            {"name": "Sales", "email": "sales@shop.example"}
        )
        cls.candidate = env["res.partner"].create(
            {"name": "Candidate", "email": "cand@mail.example"}
        )
        cls.doctor = env["res.partner"].create(
            {"name": "Doctor", "email": "doctor@clinic.example"}
        )
        cls.box = cls.recruiter("excl_rec")

    @classmethod
    def recruiter(cls, login, **box_vals):
        user = new_test_user(
            cls.env, login=login, email=f"{login}@agency.example", groups=GROUPS
        )
        box = user._carerix_mailbox(create=True)
        box.write(box_vals)
        return box

    def archive(self, box, *args, **kwargs):
        return self.Entry._archive_raw(box, make_mail(*args, **kwargs))

    def mail_on(self, record):
        return self.env["mail.message"].search(
            [
                ("model", "=", record._name),
                ("res_id", "=", record.id),
                ("carerix_mailbox_message_id", "!=", False),
            ]
        )

    def assert_excluded(self, entry):
        self.assertEqual(entry.state, "excluded")
        self.assertFalse(entry.partner_ids)
        # only the owner's mailbox copy, which he reads in My mail
        self.assertEqual(entry.copy_ids.mapped("model"), [self.Entry._name])
        self.assertEqual(entry.copy_ids.carerix_owner_id, entry.owner_id)

    def test_excluded_domain_and_subdomain(self):
        me = self.box.user_id.email
        entry = self.archive(self.box, "banker@mail.bank.example", me, "Statement")
        self.assert_excluded(entry)
        self.assertFalse(self.mail_on(self.banker) | self.mail_on(self.employer))
        self.assertEqual(
            dict(self.Entry._fields["state"]._description_selection(self.env))[
                entry.state
            ],
            "Excluded",
        )

    def test_excluded_address_not_its_domain(self):
        me = self.box.user_id.email
        self.assert_excluded(self.archive(self.box, "noreply@shop.example", me, "Ad"))
        other = self.archive(self.box, "sales@shop.example", me, "Offer")
        self.assertEqual(other.state, "matched")
        self.assertEqual(other.partner_ids, self.sales)

    def test_one_excluded_and_one_normal_counterpart(self):
        """Archived on the normal one's records only; never on the excluded
        one's contact or its employer."""
        me = self.box.user_id.email
        entry = self.archive(
            self.box, "banker@mail.bank.example", me, "Loan", cc="cand@mail.example"
        )
        self.assertEqual(entry.state, "matched")
        self.assertEqual(entry.partner_ids, self.candidate)
        self.assertEqual(len(self.mail_on(self.candidate)), 1)
        self.assertFalse(self.mail_on(self.banker) | self.mail_on(self.employer))

    def test_reply_to_a_record_from_an_excluded_address(self):
        me = self.box.user_id.email
        first_id = make_msgid()
        first = self.archive(
            self.box, "cand@mail.example", me, "Application", message_id=first_id
        )
        self.assertEqual(first.partner_ids, self.candidate)
        reply = self.archive(
            self.box,
            "noreply@shop.example",
            me,
            "Re: Application",
            in_reply_to=first_id,
        )
        self.assert_excluded(reply)
        self.assertEqual(self.mail_on(self.candidate).subject, "Application")

    def test_personal_list_only_affects_its_owner(self):
        mine = self.recruiter("excl_mine", excluded_addresses="clinic.example")
        theirs = self.recruiter("excl_theirs")
        raw = make_mail(
            "doctor@clinic.example", [mine.user_id.email, theirs.user_id.email], "Hi"
        )
        self.assert_excluded(self.Entry._archive_raw(mine, raw))
        entry = self.Entry._archive_raw(theirs, raw)
        self.assertEqual(entry.state, "matched")
        self.assertEqual(entry.partner_ids, self.doctor)
        self.assertEqual(self.mail_on(self.doctor).carerix_owner_id, theirs.user_id)

    def test_outgoing_to_excluded_recipients(self):
        me = self.box.user_id.email
        entry = self.Entry._archive_raw(
            self.box,
            make_mail(me, "banker@mail.bank.example", "Our account"),
            direction="outgoing",
        )
        self.assert_excluded(entry)
        self.assertEqual(entry.direction, "outgoing")

    def test_mail_to_myself_only_is_not_excluded(self):
        me = self.box.user_id.email
        self.assertEqual(self.archive(self.box, me, me, "Note").state, "unmatched")

    def test_mail_between_colleagues(self):
        """On by default: mail with colleagues only (their address, their
        mailbox's From address, an alias domain) is excluded; one that
        replies to mail on a record goes to that record only; off, it is
        archived as before."""
        colleague = self.recruiter(
            "excl_colleague", from_address="Jane@Recruiting.Example"
        )
        alias_domain = self.env["mail.alias.domain"].create(
            {"name": "sys-excl.example"}
        )
        me = self.box.user_id.email
        first_id = make_msgid()
        self.archive(self.box, "cand@mail.example", me, "CV", message_id=first_id)
        mails = [
            ("jane@recruiting.example", "Lunch", None),
            (f"jobs@{alias_domain.name}", "Routed", None),
        ]
        for sender, subject, parent in mails:
            entry = self.archive(self.box, sender, me, subject, in_reply_to=parent)
            self.assert_excluded(entry)
        self.assertEqual(self.mail_on(self.candidate).mapped("subject"), ["CV"])
        # a colleague's answer in the candidate's conversation: on the
        # candidate (the record it replies to), not on the colleague
        reply = self.archive(
            self.box, colleague.user_id.email, me, "Re: CV", in_reply_to=first_id
        )
        self.assertEqual(reply.state, "matched")
        self.assertEqual(
            sorted(self.mail_on(self.candidate).mapped("subject")), ["CV", "Re: CV"]
        )
        self.assertFalse(self.mail_on(colleague.user_id.partner_id))
        # a listed address in the same conversation: on nothing
        listed = self.archive(
            self.box, "noreply@shop.example", me, "Re: CV ad", in_reply_to=first_id
        )
        self.assert_excluded(listed)
        # a colleague and a candidate: archived on the candidate
        both = self.archive(
            self.box, colleague.user_id.email, me, "Intro", cc="cand@mail.example"
        )
        self.assertEqual(both.partner_ids, self.candidate)
        self.env.company.carerix_exclude_colleagues = False
        entry = self.archive(
            self.box, colleague.user_id.email, me, "Re: CV again", in_reply_to=first_id
        )
        self.assertEqual(entry.state, "matched")
        self.assertEqual(entry.partner_ids, self.candidate)

    def test_lists_read_once_per_batch(self):
        """The lists are read once per batch: more mails add no query."""
        me = self.box.user_id.email

        def batch(count):
            return [
                (make_mail("noreply@shop.example", me, unique("Ad ")), {})
                for _i in range(count)
            ]

        self.Entry._archive_batch(self.box, batch(1))  # warm-up
        Entry = self.registry["carerix.mailbox.message"]
        original = Entry._carerix_excluded_list
        calls, counts = [], []

        def counting(model, batch_):
            calls.append(batch_)
            return original(model, batch_)

        with patch.object(Entry, "_carerix_excluded_list", counting):
            for size in (2, 10, 30):
                items = batch(size)
                self.env.invalidate_all()
                before = self.cr.sql_log_count
                entries = self.Entry._archive_batch(self.box, items)
                counts.append(self.cr.sql_log_count - before)
                self.assertEqual({e.state for e in entries}, {"excluded"})
        self.assertEqual(len(calls), 3)
        # not a query per mail (a bulk insert may take one more statement)
        self.assertLessEqual(counts[2] - counts[0], 2, counts)


@tagged("post_install", "-at_install")
class TestExcludedSync(SyncCase):
    def test_sync_through_dovecot(self):
        user_id, login, email = self.make_recruiter(
            excluded_addresses="@clinic.example"
        )
        doctor = self.make_partner(name="Doctor", email="doc@clinic.example")
        cand_email = f"{unique('cand')}@mail.example"
        candidate = self.make_partner(name="Candidate", email=cand_email)
        self.deliver(login, "doc@clinic.example", email, "Results")
        self.deliver(login, cand_email, email, "My CV")
        health = self.sync(user_id)
        self.assertEqual(health["state"], "ok", health["last_error"])
        by_subject = {e["subject"]: e for e in self.entries(user_id)}
        self.assertEqual(by_subject["Results"]["state"], "excluded")
        self.assertEqual(by_subject["Results"]["partners"], set())
        self.assertEqual(
            [model for model, _id, _a in by_subject["Results"]["copies"]],
            ["carerix.mailbox.message"],
        )
        self.assertEqual(by_subject["My CV"]["state"], "matched")
        self.assertEqual(self.partner_mail(doctor), [])
        self.assertEqual(self.partner_mail(candidate), ["My CV"])
        with self.real_env(uid=user_id) as env:
            mine = env["carerix.mailbox.message"].search([("state", "=", "excluded")])
            self.assertEqual(mine.mapped("subject"), ["Results"])
            self.assertIn("Results", mine.copy_ids.mapped("subject"))


@tagged("post_install", "-at_install")
class TestExcludedSent(SentFolderCase):
    def test_sent_from_odoo_to_an_excluded_address(self):
        """The posted message stays on the record it was posted on (the user
        put it there); the Sent entry is excluded and no other record, such
        as the employer, gets a copy."""
        user_id, login, email = self.make_recruiter(
            from_address=None, excluded_addresses="bank.example"
        )
        self.dovecot.create_folder(login, "Sent")
        employer = self.make_partner(name="Bank", is_company=True)
        banker = self.make_partner(
            name="Banker", email="banker@bank.example", parent_id=employer
        )
        message_id, _mid = self.send(user_id, banker, "Account")
        health = self.sync(user_id)
        self.assertEqual(health["state"], "ok", health["last_error"])
        (entry,) = self.entries(user_id)
        self.assertEqual(entry["direction"], "outgoing")
        self.assertEqual(entry["state"], "excluded")
        # the mailbox copy and the posted message, nothing else
        self.assertEqual(
            [(model, res_id) for model, res_id, _a in entry["copies"]][1:],
            [("res.partner", banker)],
        )
        self.assertEqual(self.partner_mail(banker), ["Account"])
        self.assertEqual(self.partner_mail(employer), [])
        with self.real_env() as env:
            self.assertEqual(
                env["mail.message"].browse(message_id).carerix_owner_id.id, user_id
            )
