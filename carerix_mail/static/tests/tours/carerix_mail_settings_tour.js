/** @odoo-module **/
/*
 * A recruiter fills in his Email settings on his own preferences (My Profile),
 * saves, tests the connection and maps a folder with Edit folders.
 *
 * The Dovecot account comes from the Python test through
 * window.carerixTourValues = {host, port, login, password}, read only when a
 * step runs (steps() is also evaluated before the test sets them).
 * A console line "carerix-screenshot:<name>" asks the test for a screenshot.
 */
import { registry } from "@web/core/registry";
import {
    openEmailSettings,
    savePreferences,
    screenshot,
    values,
} from "@carerix_mail/../tests/tours/tour_utils";

// A folder the test creates on the server, mapped to "Inbox" in the wizard.
const FOLDER = "Projects";

function expectPort(port) {
    return {
        content: `The port proposed is ${port}`,
        trigger: ".modal div[name=mailbox_port] input",
        run() {
            if (this.anchor.value !== String(port)) {
                throw new Error(`port ${this.anchor.value}, expected ${port}`);
            }
        },
    };
}

registry.category("web_tour.tours").add("carerix_mail_settings", {
    steps: () => [
        ...openEmailSettings(),
        {
            content: "POP-only settings are greyed out for IMAP",
            trigger: ".modal div[name=mailbox_keep_copy] input:disabled",
        },
        {
            content: "Choose SSL/TLS",
            trigger: ".modal div[name=mailbox_security] input[data-value=ssl]",
            run: "click",
        },
        expectPort(993),
        {
            content: "Choose no encryption",
            trigger: ".modal div[name=mailbox_security] input[data-value=none]",
            run: "click",
        },
        {
            content: "A strong warning and a confirmation appear",
            trigger: ".modal .alert-danger:contains(No encryption)",
        },
        {
            trigger: ".modal div[name=mailbox_security_none_confirmed] input",
        },
        expectPort(143),
        screenshot("security_none_warning"),
        {
            content: "Back to STARTTLS",
            trigger: ".modal div[name=mailbox_security] input[data-value=starttls]",
            run: "click",
        },
        {
            content: "The warning is gone",
            trigger: ".modal:not(:has(.alert-danger:visible))",
        },
        {
            content: "Mail server",
            trigger: ".modal div[name=mailbox_host] input",
            async run(helpers) {
                await helpers.edit(values().host);
            },
        },
        {
            content: "Port (the server listens on a non-standard port)",
            trigger: ".modal div[name=mailbox_port] input",
            async run(helpers) {
                await helpers.edit(String(values().port));
            },
        },
        {
            content: "User name",
            trigger: ".modal div[name=mailbox_login] input",
            async run(helpers) {
                await helpers.edit(values().login);
            },
        },
        {
            content: "Password",
            trigger: ".modal div[name=mailbox_password] input[type=password]",
            async run(helpers) {
                await helpers.edit(values().password);
            },
        },
        {
            content: "Fetch email",
            trigger: ".modal div[name=mailbox_fetch_enabled] input",
            run: "click",
        },
        ...savePreferences(),
        ...openEmailSettings(),
        {
            content: "The settings were saved",
            trigger: ".modal div[name=mailbox_login] input",
            run() {
                if (this.anchor.value !== values().login) {
                    throw new Error(`login ${this.anchor.value} not saved`);
                }
            },
        },
        {
            content: "The password is saved...",
            trigger: ".modal div[name=mailbox_has_password] input:checked",
        },
        {
            content: "... but never shown",
            trigger: ".modal div[name=mailbox_password] input[type=password]",
            run() {
                if (this.anchor.value) {
                    throw new Error("the saved password is shown");
                }
            },
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
            content: "Edit folders",
            trigger: ".modal button[name=action_mailbox_edit_folders]",
            run: "click",
        },
        {
            content: "The server's folders are listed with their proposed role",
            trigger: ".modal div[name=line_ids] .o_data_row:contains(Sent) td[name=proposed_role]:contains(Sent)",
        },
        {
            trigger: `.modal div[name=line_ids] .o_data_row td[name=name]:contains(${FOLDER})`,
        },
        screenshot("folder_wizard"),
        {
            content: "Change the role of a folder",
            trigger: `.modal .o_data_row:contains(${FOLDER}) td[name=role]`,
            run: "click",
        },
        {
            trigger: `.modal .o_data_row:contains(${FOLDER}) td[name=role] select`,
            run: 'select "inbox"',
        },
        {
            content: "Save the folders",
            trigger: ".modal button[name=action_apply]",
            run: "click",
        },
        {
            content: "Saved",
            trigger: ".o_notification:contains(Folders saved)",
        },
        {
            content: "Back on the preferences: page Email settings",
            trigger: ".modal .o_notebook a.nav-link:contains(Email settings)",
            run: "click",
        },
        {
            content: "The card shows the new mapping",
            trigger: `.modal div[name=mailbox_folder_ids] .o_data_row:contains(${FOLDER}) td[name=role]:contains(Inbox)`,
        },
        screenshot("email_settings"),
        {
            content: "Scroll down to the sync health and the folders",
            trigger: ".modal div[name=mailbox_folder_ids]",
            run() {
                this.anchor.scrollIntoView({ block: "end" });
            },
        },
        screenshot("email_settings_folders"),
    ],
});
