/** @odoo-module **/
/*
 * Shared by the tours of carerix_mail.
 */

/**
 * A tour step asking the Python test for a screenshot named ``name``: the
 * test watches the console for the line "carerix-screenshot:<name>".
 */
export function screenshot(name) {
    return {
        content: `Screenshot ${name}`,
        trigger: "body",
        async run() {
            console.log(`carerix-screenshot:${name}`);
            // Leave the page unchanged while the screenshot is taken.
            await new Promise((resolve) => setTimeout(resolve, 1500));
        },
    };
}
