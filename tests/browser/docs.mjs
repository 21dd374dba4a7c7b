// The dev server's API documentation page (GET /docs) as a person sees it, in Debian's
// Chromium, headless, driven by playwright-core: Scalar renders openapi.yaml from the dev
// server alone, under its Content-Security-Policy, with no request to any other origin. Prints
// one `check <name> ... ok` line per step; exits non-zero on the first failure.
//
//   AUTHFN_BASE_URL=http://localhost:3000 node tests/browser/docs.mjs
import { chromium } from "playwright-core";

const api = process.env.AUTHFN_BASE_URL?.replace(/\/+$/, "");
if (!api) throw new Error("AUTHFN_BASE_URL is required (a dev server)");

function check(name, ok, detail = "") {
    if (!ok) {
        console.error(`check ${name} ... FAILED ${detail}`);
        process.exitCode = 1;
        throw new Error(`check ${name} failed`);
    }
    console.log(`check ${name} ... ok`);
}

const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"],
});
try {
    const page = await browser.newPage();
    const origin = new URL(api).origin;
    const loadedElsewhere = [];
    const refused = [];
    page.on("response", (res) => {
        const url = new URL(res.url());
        if (url.protocol.startsWith("http") && url.origin !== origin) loadedElsewhere.push(res.url());
    });
    page.on("console", (msg) => {
        if (msg.type() === "error" && /Content Security Policy/i.test(msg.text())) refused.push(msg.text());
    });
    page.on("pageerror", (error) => refused.push(`script error: ${error.message}`));

    const answer = await page.goto(`${api}/docs`);
    check("docs-page-is-served-with-a-strict-csp", answer.status() === 200
        && /script-src 'self'/.test(answer.headers()["content-security-policy"] ?? ""),
        `${answer.status()} ${answer.headers()["content-security-policy"]}`);

    // The sidebar lists operations by path (operationTitleSource: path): one that every
    // version of the document has, and the document's title.
    await page.getByText("/auth/sign-in", { exact: false }).first().waitFor({ timeout: 30_000 });
    await page.getByRole("heading", { name: "authfn" }).first().waitFor();
    check("docs-page-renders-openapi-yaml", true);

    // Open one operation: its body and every answer, each described, are on the page.
    await page.getByText("/auth/sign-in", { exact: false }).first().click();
    await page.getByText("A new session (the one sent with the request ends)").first().waitFor();
    await page.getByText("The email and password do not match an account.").first().waitFor();
    check("docs-page-shows-an-operations-answers", true);

    await page.waitForTimeout(1000);
    check("docs-page-loads-nothing-from-elsewhere", loadedElsewhere.length === 0, loadedElsewhere.join(", "));
    // Scalar 1.72 asks for its web fonts from its own host before it applies
    // `withDefaultFonts: false`; the CSP refuses them (the page uses system fonts). Nothing
    // else may need what the CSP refuses.
    const font = /Loading the font 'https:\/\/fonts\.scalar\.com\/[a-z-]+\.woff2' violates .*font-src/;
    const unexpected = refused.filter((text) => !font.test(text));
    check("docs-page-needs-nothing-its-csp-refuses", unexpected.length === 0, unexpected.join(" | "));
} finally {
    await browser.close();
}
