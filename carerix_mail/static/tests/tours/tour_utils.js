/** @odoo-module **/
/*
 * Shared by the tours of carerix_mail.
 */

const STORAGE_KEY = "carerixTourValues";

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

/**
 * Steps opening the page Email settings of the user's preferences (My Profile).
 */
export function openEmailSettings() {
    return [
        {
            content: "Open the user menu",
            trigger: ".o_user_menu button",
            run: "click",
        },
        {
            content: "Open my preferences",
            trigger: "[data-menu=settings]",
            run: "click",
        },
        {
            content: "Open the page Email settings",
            trigger: ".modal .o_notebook a.nav-link:contains(Email settings)",
            run: "click",
        },
        {
            content: "The page is shown",
            trigger: ".modal div[name=mailbox_host] input",
        },
    ];
}

/**
 * Steps saving the preferences, which reloads the page.
 */
export function savePreferences() {
    return [
        {
            content: "Save the preferences (the page reloads)",
            trigger: ".modal button[name=preference_save]",
            run(helpers) {
                document.body.classList.add("o_carerix_before_save");
                return helpers.click();
            },
        },
        {
            content: "The page was reloaded",
            trigger: "body:not(.o_carerix_before_save) .o_user_menu button",
        },
    ];
}

/**
 * The values the Python test sets in ``window.carerixTourValues``, kept in the
 * session storage for the pages that follow (a save or a sign-in reloads).
 */
export function values() {
    // Saving the preferences reloads the page: keep the values for the rest.
    if (window.carerixTourValues) {
        sessionStorage.setItem(STORAGE_KEY, JSON.stringify(window.carerixTourValues));
    }
    const stored = sessionStorage.getItem(STORAGE_KEY);
    if (!stored) {
        throw new Error("window.carerixTourValues is not set by the test");
    }
    return JSON.parse(stored);
}
