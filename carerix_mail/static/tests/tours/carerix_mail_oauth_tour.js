/** @odoo-module **/
/*
 * A recruiter connects his Microsoft 365 mailbox: he chooses the sign-in
 * method (the server is proposed), points it at the test's mail server,
 * clicks Connect with Microsoft, signs in at the provider (the local identity
 * provider consents at once), reads "Connected as ...", goes back, tests the
 * connection and syncs: the mail waiting on the server is archived.
 *
 * window.carerixTourValues = {host, port, login} come from the Python test.
 */
import { registry } from "@web/core/registry";
import { openEmailSettings, screenshot, values } from "@carerix_mail/../tests/tours/tour_utils";

function typeIn(name, value) {
    return {
        content: `Enter ${name}`,
        trigger: `.modal div[name=${name}] input`,
        async run(helpers) {
            await helpers.edit(String(value()));
        },
    };
}

registry.category("web_tour.tours").add("carerix_mail_oauth", {
    steps: () => [
        ...openEmailSettings(),
        {
            content: "Sign in with Microsoft 365",
            trigger: ".modal div[name=mailbox_auth_method] input[data-value=microsoft]",
            run: "click",
        },
        {
            content: "Microsoft's server is proposed",
            trigger: ".modal div[name=mailbox_host] input",
            run() {
                if (this.anchor.value !== "outlook.office365.com") {
                    throw new Error(`host ${this.anchor.value}, expected Microsoft's`);
                }
            },
        },
        {
            content: "No password to enter",
            trigger: ".modal:not(:has(div[name=mailbox_password]:visible))",
        },
        typeIn("mailbox_host", () => values().host),
        {
            content: "STARTTLS (the test's server)",
            trigger: ".modal div[name=mailbox_security] input[data-value=starttls]",
            run: "click",
        },
        typeIn("mailbox_port", () => values().port),
        typeIn("mailbox_login", () => values().login),
        {
            content: "Fetch email",
            trigger: ".modal div[name=mailbox_fetch_enabled] input",
            run: "click",
        },
        {
            content: "Not connected yet",
            trigger: ".modal div[name=mailbox_oauth_status]:contains(Not connected)",
        },
        screenshot("oauth_settings"),
        {
            content: "Connect with Microsoft",
            trigger: ".modal button[name=action_mailbox_oauth_connect]:contains(Connect with Microsoft)",
            run: "click",
        },
        {
            content: "Back from the provider: connected",
            trigger: ".o_carerix_oauth_connected:contains(Connected as)",
            run() {
                if (!this.anchor.textContent.includes(values().login)) {
                    throw new Error(`not connected as ${values().login}`);
                }
            },
        },
        {
            content: "The mail server accepted the sign-in",
            trigger: ".o_carerix_oauth_tested",
        },
        screenshot("oauth_connected"),
        {
            content: "Back to Odoo",
            trigger: "a.o_carerix_oauth_back",
            run: "click",
        },
        ...openEmailSettings(),
        {
            content: "The mailbox shows the account",
            trigger: ".modal div[name=mailbox_oauth_account]",
            run() {
                if (!this.anchor.textContent.includes(values().login)) {
                    throw new Error(`account ${this.anchor.textContent}`);
                }
            },
        },
        {
            trigger: ".modal div[name=mailbox_oauth_status]:contains(Connected)",
        },
        {
            content: "Test connection",
            trigger: ".modal button[name=action_mailbox_test_connection]",
            run: "click",
        },
        {
            content: "The connection works",
            trigger: ".o_notification:contains(Connection successful)",
        },
        {
            content: "Sync now",
            trigger: ".modal button[name=action_mailbox_sync_now]",
            run: "click",
        },
        {
            content: "The mail on the server is archived",
            trigger: ".o_notification:contains(Fetched: 1. Archived: 1.)",
        },
        screenshot("oauth_synced"),
    ],
});
