"""Odoo's own mail flows, stock Odoo against Odoo with carerix_mail installed.

Used by ``bench_sync.py --only odoo_flows``. Three flows, each run as an
internal user in a database copied from a template (the same data on both
sides), in one transaction that is rolled back afterwards:

* ``message_post``: 50 emails posted on a contact (each one emailed to him);
* ``mass mail``: the composer mails a template to 500 contacts (mass mail
  mode: 500 queued ``mail.mail``);
* ``send 500``: those 500 mails sent by ``mail.mail.send`` through a local
  SMTP sink.

Every side and user runs the flows ``ROUNDS`` times, in turns, and the
median time is reported: the machine's noise moves single runs.

With carerix_mail the flows run twice: for a user who does not use his
mailbox (Odoo's behaviour must be unchanged, and cost the same) and for a
recruiter who does (his sent mail is archived for him). Each flow is warmed
up once first (registry caches, templates), then measured: wall time and
the number of SQL queries.
"""

import socketserver
import threading
import time

POSTS = 50
MASS = 500
ROUNDS = 3


class _SmtpHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP to accept mail (no TLS, no AUTH)."""

    def reply(self, line):
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self):
        self.reply("220 sink ESMTP")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                self.reply("250-sink")
                self.reply("250 8BITMIME")
            elif verb == b"DATA":
                self.reply("354 go on")
                while self.rfile.readline() not in (b".\r\n", b""):
                    pass
                self.server.received += 1
                self.reply("250 queued")
            elif verb == b"QUIT":
                self.reply("221 bye")
                return
            else:  # MAIL, RCPT, RSET, NOOP
                self.reply("250 ok")


class SmtpSink(socketserver.ThreadingTCPServer):
    """A local SMTP server that accepts and counts mail, on a free port."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _SmtpHandler)
        self.received = 0
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self):
        return self.server_address[1]

    def close(self):
        self.shutdown()
        self.server_close()


def prepare(env, sink_port, carerix):
    """Data of both sides: 500 contacts, a template, the sink as the only
    outgoing server, a plain user and (with carerix_mail) a recruiter.
    Returns ``{user kind: user id}``."""
    env["ir.mail_server"].search([]).unlink()
    env["ir.mail_server"].create(
        {
            "name": "sink",
            "smtp_host": "127.0.0.1",
            "smtp_port": sink_port,
            "smtp_encryption": "none",
        }
    )
    env["res.partner"].create(
        [
            {"name": f"Contact {n}", "email": f"contact{n}@flows.example"}
            for n in range(MASS)
        ]
    )
    env["mail.template"].create(
        {
            "name": "flows",
            "model_id": env["ir.model"]._get_id("res.partner"),
            "subject": "Hello {{ object.name }}",
            "body_html": "<p>Dear <t t-out='object.name'/>, a new job for you.</p>",
            "email_from": "{{ user.email_formatted }}",
            "partner_to": "{{ object.id }}",
        }
    )
    group_ids = [
        env.ref("base.group_user").id,
        env.ref("base.group_partner_manager").id,
    ]
    users = {}
    for kind in ("plain", "recruiter") if carerix else ("plain",):
        user = env["res.users"].create(
            {
                "name": f"Flows {kind}",
                "login": f"flows_{kind}",
                "email": f"flows_{kind}@agency.example",
                "groups_id": [(6, 0, group_ids)],
            }
        )
        if kind == "recruiter":
            user._carerix_mailbox(create=True).write(
                {"from_address": user.email, "host": "imap.flows.invalid"}
            )
        users[kind] = user.id
    return users


def _flows(env):
    """The three flows as the user of ``env``; yields (name, count, callable)."""
    partners = env["res.partner"].search(
        [("email", "like", "@flows.example")], order="id", limit=MASS
    )
    template = env["mail.template"].search([("name", "=", "flows")], limit=1)
    state = {}

    def post():
        contact = partners[0]
        for number in range(POSTS):
            contact.message_post(
                body=f"<p>Message {number}</p>",
                subject="About the job",
                partner_ids=contact.ids,
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
            )

    def mass_mail():
        composer = (
            env["mail.compose.message"]
            .with_context(
                default_composition_mode="mass_mail",
                default_model="res.partner",
                default_res_ids=partners.ids,
                default_template_id=template.id,
            )
            .create({})
        )
        mails, _messages = composer._action_send_mail()
        state["mails"] = mails

    def send():
        state["mails"].send(auto_commit=False)

    yield "message_post", POSTS, post
    yield "mass mail", MASS, mass_mail
    yield "send 500", MASS, send


def measure(registry, user_id, warm_up=True):
    """``{flow: (seconds, queries)}`` for one user (after a warm-up run of
    the same flows, rolled back like the measured one)."""
    from odoo import api  # noqa: PLC0415

    results = {}
    for warming in (True, False) if warm_up else (False,):
        with registry.cursor() as cr:
            env = api.Environment(cr, user_id, {})
            for name, _count, flow in _flows(env):
                env.flush_all()
                queries = cr.sql_log_count
                started = time.perf_counter()
                flow()
                env.flush_all()
                elapsed = time.perf_counter() - started
                if not warming:
                    results[name] = (elapsed, cr.sql_log_count - queries)
            cr.rollback()
    return results


def median_results(runs):
    """The median time (and its query count) of each flow over ``runs``."""
    merged = {}
    for name in runs[0]:
        values = sorted(run[name] for run in runs)
        merged[name] = values[len(values) // 2]
    return merged


def report(log, stock, ours):
    """Print both sides, per flow; ``stock``/``ours`` map a user kind to the
    result of :func:`measure`."""
    base = stock["plain"]
    for name, count in (
        ("message_post", POSTS),
        ("mass mail", MASS),
        ("send 500", MASS),
    ):
        seconds, queries = base[name]
        log(f"{name} ({count}):")
        log(f"  stock Odoo            : {seconds:6.2f} s  {queries:6d} queries")
        for kind, label in (
            ("plain", "user without mailbox"),
            ("recruiter", "recruiter"),
        ):
            ours_s, ours_q = ours[kind][name]
            log(
                f"  carerix_mail, {label:20s}: {ours_s:6.2f} s  {ours_q:6d} queries"
                f"  ({ours_s / seconds:4.2f}x time, {ours_q - queries:+d} queries)"
            )
    log("  target: a user without mailbox within 1.05x of stock and no added query")
