"""Outgoing mail: From / Reply-To, the personal system address, the copy in
the IMAP Sent folder and replies coming back to the same record."""

from email import message_from_bytes, policy
from unittest.mock import patch

from odoo.exceptions import UserError
from odoo.modules import module as odoo_module
from odoo.tests import TransactionCase, new_test_user, tagged

from .common import SyncCase, comment_composer, make_mail, unique

GROUPS = "base.group_user,base.group_partner_manager"


class NoSmtpMixin:
    """Odoo 18 skips SMTP only while ``current_test`` is set; its own runner
    sets it, pytest-odoo (before Odoo 19) does not."""

    def setUp(self):
        super().setUp()
        patcher = patch.object(odoo_module, "current_test", self)
        patcher.start()
        self.addCleanup(patcher.stop)


def _alias_domain(env):
    company = env.company
    if not company.alias_domain_id:
        company.alias_domain_id = env["mail.alias.domain"].create(
            {"name": f"{unique('sys')}.example"}
        )
    return company.alias_domain_id


@tagged("post_install", "-at_install")
class TestFromAddress(NoSmtpMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.domain = _alias_domain(cls.env)
        cls.candidate = cls.env["res.partner"].create(
            {"name": "Candidate", "email": "cand@mail.example"}
        )

    def mailbox_user(self, **kwargs):
        """A recruiter who uses his carerix mailbox (a mail server is set):
        carerix_mail's From logic applies to him, not to other users."""
        user = new_test_user(self.env, groups=GROUPS, **kwargs)
        user._carerix_mailbox(create=True).host = "imap.agency.example"
        return user

    def post(self, user):
        return self.candidate.with_user(user).message_post(
            body="Hello",
            partner_ids=self.candidate.ids,
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
        )

    def test_system_address_created_unique_and_shown(self):
        one = new_test_user(
            self.env, login="john@first.example", name="John One", groups=GROUPS
        )
        two = new_test_user(
            self.env, login="john@second.example", name="John Two", groups=GROUPS
        )
        self.assertEqual(one.carerix_system_address, f"john@{self.domain.name}")
        self.assertEqual(two.carerix_system_address, f"john2@{self.domain.name}")
        # The user sees his own address; it is read-only.
        self.assertEqual(
            one.with_user(one).read(["carerix_system_address"])[0][
                "carerix_system_address"
            ],
            f"john@{self.domain.name}",
        )
        self.assertTrue(one._fields["carerix_system_address"].readonly)
        portal = new_test_user(self.env, login="portal.sys", groups="base.group_portal")
        self.assertFalse(portal.carerix_system_address)

    def test_existing_users_get_an_address_on_install(self):
        admin = self.env.ref("base.user_admin")
        self.env["res.users"]._carerix_create_system_addresses()
        self.assertTrue(admin.carerix_system_address)
        self.assertTrue(admin.carerix_system_address.endswith("@" + self.domain.name))

    def test_outgoing_from_address_wins(self):
        user = new_test_user(
            self.env, login="from.user", name="From User", groups=GROUPS
        )
        user._carerix_mailbox(create=True).from_address = "from.user@agency.example"
        message = self.post(user)
        self.assertEqual(message.email_from, '"From User" <from.user@agency.example>')
        self.assertEqual(message.reply_to, message.email_from)

    def test_system_address_is_the_fallback(self):
        user = self.mailbox_user(
            login="sys.user", name="Sys User", email="sys@login.example"
        )
        message = self.post(user)
        self.assertEqual(
            message.email_from, f'"Sys User" <sys.user@{self.domain.name}>'
        )
        self.assertEqual(message.reply_to, message.email_from)

    def test_user_without_mailbox_keeps_odoos_from(self):
        user = new_test_user(
            self.env,
            login="plain.user",
            name="Plain User",
            email="plain@login.example",
            groups=GROUPS,
        )
        message = self.post(user)
        self.assertEqual(message.email_from, '"Plain User" <plain@login.example>')

    def test_composer_uses_the_from_address(self):
        user = self.mailbox_user(login="comp.user", name="Comp User")
        template = self.env.ref("carerix_mail.mail_template_application_received")
        composer = comment_composer(user, self.candidate, {"template_id": template.id})
        self.assertEqual(
            composer.email_from, f'"Comp User" <comp.user@{self.domain.name}>'
        )

    def test_no_alias_domain_tells_the_admin(self):
        self.env.company.alias_domain_id = False
        user = self.mailbox_user(login="nodomain", name="No Domain")
        self.assertFalse(user.carerix_system_address)
        composer = comment_composer(
            user, self.candidate, {"body": "Hello", "partner_ids": self.candidate.ids}
        )
        with self.assertRaisesRegex(UserError, "Alias Domain"):
            composer.action_send_mail()
        # With an Outgoing From address the same user can send.
        user._carerix_mailbox(create=True).from_address = "nodomain@agency.example"
        composer.action_send_mail()
        self.assertIn(
            "nodomain@agency.example", self.candidate.message_ids[0].email_from
        )


@tagged("post_install", "-at_install")
class TestSystemAddressRouting(TransactionCase):
    def test_mail_to_system_address_lands_in_owners_mailbox(self):
        _alias_domain(self.env)
        user = new_test_user(
            self.env, login="routed", name="Routed User", groups=GROUPS
        )
        other = new_test_user(
            self.env, login="bystander", name="Bystander", groups=GROUPS
        )
        candidate = self.env["res.partner"].create(
            {"name": "Routed candidate", "email": "routed.cand@mail.example"}
        )
        raw = make_mail(
            "Routed candidate <routed.cand@mail.example>",
            user.carerix_system_address,
            subject="My CV",
        )
        Thread = self.env["mail.thread"]
        # More than Odoo's loop threshold: no mail is eaten by the detector.
        for index in range(3):
            Thread.message_process(
                None,
                make_mail(
                    "routed.cand@mail.example",
                    user.carerix_system_address,
                    subject=f"Note {index}",
                ),
            )
        Thread.message_process(None, raw)
        Thread.message_process(None, raw)  # delivered twice: archived once
        Entry = self.env["carerix.mailbox.message"]
        entries = Entry.search([("owner_id", "=", user.id)])
        self.assertEqual(len(entries), 4)
        cv = entries.filtered(lambda e: e.subject == "My CV")
        self.assertEqual(cv.partner_ids, candidate)
        self.assertEqual(cv.direction, "incoming")
        self.assertEqual(cv.mailbox_id, user._carerix_mailbox())
        self.assertEqual(
            set(cv.copy_ids.mapped("model")), {"carerix.mailbox.message", "res.partner"}
        )
        self.assertFalse(Entry.search([("owner_id", "=", other.id)]))


class SentFolderCase(NoSmtpMixin, SyncCase):
    """Recruiters who send from Odoo, on an alias domain of their company."""

    def setUp(self):
        super().setUp()
        with self.real_env() as env:
            previous = env.company.alias_domain_id.id
            _alias_domain(env)
        # Before SyncCase deletes what the test committed (cleanups run
        # last in, first out): the company refers to the new alias domain.
        self.addCleanup(self._restore_alias_domain, previous)

    def _restore_alias_domain(self, alias_domain_id):
        """The company, and the aliases that followed it, back on their alias
        domain of before the test (SQL: the aliases only change domain)."""
        with self.real_env() as env:
            created = env.company.alias_domain_id.id
            if created == alias_domain_id:
                return
            env.company.alias_domain_id = alias_domain_id
            env.flush_all()
            env.cr.execute(
                "UPDATE mail_alias SET alias_domain_id = %s WHERE alias_domain_id = %s",
                [alias_domain_id or None, created],
            )

    def make_recruiter(self, **kwargs):
        user_id, login, email = super().make_recruiter(**kwargs)
        with self.real_env() as env:
            env["res.users"].browse(user_id).groups_id = [
                (4, env.ref("base.group_partner_manager").id)
            ]
        return user_id, login, email

    def send(self, user_id, partner_id, subject):
        with self.real_env(uid=user_id) as env:
            message = (
                env["res.partner"]
                .browse(partner_id)
                .message_post(
                    body="<p>Are you available next week?</p>",
                    subject=subject,
                    partner_ids=[partner_id],
                    message_type="comment",
                    subtype_xmlid="mail.mt_comment",
                )
            )
            return message.id, message.message_id
        # the commit runs the append to Sent (post-commit)


@tagged("post_install", "-at_install")
class TestSentFolder(SentFolderCase):
    def test_sent_copy_appended_read_and_not_archived_twice(self):
        user_id, login, email = self.make_recruiter(from_address=None)
        self.dovecot.create_folder(login, "Sent")
        cand_email = f"{unique('cand')}@mail.example"
        candidate = self.make_partner(name="Candidate", email=cand_email)
        message_id, _mid = self.send(user_id, candidate, "Interview")
        self.assertEqual(self.dovecot.message_count(login, "Sent"), 1)
        with self.dovecot.imap(login) as client:
            client.select_folder("Sent", readonly=True)
            uid = client.search("ALL")[0]
        self.assertIn(b"\\Seen", self.dovecot.flags(login, "Sent", uid))
        self.assertEqual(len(self.entries(user_id)), 1)
        health = self.sync(user_id)
        self.assertEqual(health["state"], "ok", health["last_error"])
        entries = self.entries(user_id)
        self.assertEqual(len(entries), 1)
        self.assertEqual(entries[0]["direction"], "outgoing")
        # The posted message is the copy on the candidate: no second one.
        self.assertEqual(self.partner_mail(candidate), ["Interview"])
        with self.real_env() as env:
            message = env["mail.message"].browse(message_id)
            self.assertEqual(message.carerix_owner_id.id, user_id)
            self.assertEqual(message.carerix_direction, "outgoing")

    def imap_logins(self, login):
        """How many IMAP sessions the mailbox of ``login`` has opened, as
        Dovecot logs them (the mailbox uses STARTTLS, the test's own
        connections do not)."""
        lines = self.dovecot.log_file.read_text(errors="replace").splitlines()
        return sum(
            f"Login: user=<{login}>," in line and ", TLS," in line for line in lines
        )

    def test_sent_copies_of_a_transaction_appended_over_one_connection(self):
        user_id, login, email = self.make_recruiter(from_address=None)
        self.dovecot.create_folder(login, "Sent")
        candidates = [
            self.make_partner(name=f"Candidate {n}", email=f"{unique('c')}@job.example")
            for n in range(3)
        ]
        logins = self.imap_logins(login)
        with self.real_env(uid=user_id) as env:
            for number, partner in enumerate(env["res.partner"].browse(candidates)):
                partner.message_post(
                    body="<p>A new job for you</p>",
                    subject=f"Job {number}",
                    partner_ids=partner.ids,
                    message_type="comment",
                    subtype_xmlid="mail.mt_comment",
                )
            # each post sent its mail at once; the copies wait for the commit
            self.assertEqual(self.dovecot.message_count(login, "Sent"), 0)
        self.assertEqual(self.dovecot.message_count(login, "Sent"), 3)
        self.assertEqual(self.imap_logins(login) - logins, 1)
        with self.dovecot.imap(login) as client:
            client.select_folder("Sent", readonly=True)
            fetched = client.fetch(client.search("ALL"), [b"RFC822"])
        copies = [
            message_from_bytes(values[b"RFC822"], policy=policy.default)
            for values in fetched.values()
        ]
        self.assertEqual(
            sorted(copy["Subject"] for copy in copies), ["Job 0", "Job 1", "Job 2"]
        )
        for copy in copies:  # the message that left, without its bounce address
            self.assertIsNone(copy["Return-Path"])
            self.assertEqual(len(copy.get_all("To")), 1)
            self.assertIn("@job.example", copy["To"])
            self.assertIn("A new job for you", copy.get_body().get_content())
        entries = self.entries(user_id)
        self.assertEqual(len(entries), 3)
        for number, candidate in enumerate(candidates):
            self.assertEqual(self.partner_mail(candidate), [f"Job {number}"])
        with self.real_env() as env:
            found = env["carerix.mailbox.message"].search([("owner_id", "=", user_id)])
            self.assertEqual(found.mapped("state"), ["matched"] * 3)
            self.assertEqual(sorted(found.partner_ids.ids), sorted(candidates))
        # the next sync of Sent finds them archived already
        self.assertEqual(self.sync(user_id)["state"], "ok")
        self.assertEqual(len(self.entries(user_id)), 3)

    def test_reply_comes_back_to_the_same_record(self):
        user_id, login, email = self.make_recruiter(from_address=None)
        self.dovecot.create_folder(login, "Sent")
        with self.real_env() as env:
            env["carerix.mailbox"].search(
                [("user_id", "=", user_id)]
            ).from_address = email
        # The reply comes from another address than the one written to.
        cand_email = f"{unique('cand')}@mail.example"
        candidate = self.make_partner(name="Candidate", email=cand_email)
        _message_id, mid = self.send(user_id, candidate, "Interview")
        with self.real_env() as env:
            sent = env["mail.message"].search(
                [("message_id", "=", mid), ("model", "=", "res.partner")]
            )
            self.assertIn(email, sent.email_from)
            self.assertIn(email, sent.reply_to)
        self.deliver(
            login,
            f"Candidate at home <{unique('home')}@other.example>",
            email,
            subject="Re: Interview",
            in_reply_to=mid,
        )
        self.assertEqual(self.sync(user_id)["state"], "ok")
        self.sync(user_id)
        self.assertEqual(
            sorted(self.partner_mail(candidate)), ["Interview", "Re: Interview"]
        )
        self.assertEqual(len(self.entries(user_id)), 2)

    def test_reply_in_private_conversation_stays_private_in_sent(self):
        user_id, login, email = self.make_recruiter(from_address=None)
        self.dovecot.create_folder(login, "Sent")
        cand_email = f"{unique('cand')}@mail.example"
        candidate = self.make_partner(name="Candidate", email=cand_email)
        private_id = f"<{unique('offer')}@mail.example>"
        self.deliver(
            login, cand_email, email, "Vertrouwelijk: salary", message_id=private_id
        )
        self.assertEqual(self.sync(user_id)["state"], "ok")
        with self.real_env(uid=user_id) as env:
            private = env["mail.message"].search(
                [("message_id", "=", private_id), ("model", "=", "res.partner")]
            )
            self.assertTrue(private.carerix_confidential)
            reply = (
                env["res.partner"]
                .browse(candidate)
                .sudo()  # as the web client posts
                .message_post(
                    body="<p>PRIVATEREPLY</p>",
                    subject="Re: salary",
                    partner_ids=[candidate],
                    parent_id=private.id,
                    message_type="comment",
                    subtype_xmlid="mail.mt_comment",
                )
            )
            reply_id = reply.id
        self.assertEqual(self.dovecot.message_count(login, "Sent"), 1)
        self.assertEqual(self.sync(user_id)["state"], "ok")
        entries = self.entries(user_id)
        self.assertEqual([e["direction"] for e in entries], ["incoming", "outgoing"])
        with self.real_env() as env:
            reply = env["mail.message"].browse(reply_id)
            entry = reply.carerix_mailbox_message_id
            self.assertTrue(reply.carerix_confidential)
            self.assertTrue(entry.confidential)
            self.assertTrue(all(entry.copy_ids.mapped("carerix_confidential")))
            self.assertIn(private_id, reply.carerix_references)
            other = new_test_user(env, login=unique("other"), groups=GROUPS)
            Message = env["mail.message"].with_user(other)
            self.assertFalse(Message.search([("body", "ilike", "PRIVATEREPLY")]))

    def test_append_failure_shows_on_sync_health(self):
        user_id, login, email = self.make_recruiter(password="wrong-password")
        cand_email = f"{unique('cand')}@mail.example"
        candidate = self.make_partner(name="Candidate", email=cand_email)
        self.send(user_id, candidate, "Still sent")
        with self.real_env() as env:
            box = env["carerix.mailbox"].search([("user_id", "=", user_id)])
            self.assertEqual(box.state, "failing")
            self.assertIn("Sent folder", box.last_error)
        self.assertEqual(self.partner_mail(candidate), ["Still sent"])
