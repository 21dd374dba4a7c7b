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
    const elsewhere = [];
    const refused = [];
    page.on("request", (req) => {
        const url = new URL(req.url());
        if (url.protocol.startsWith("http") && url.origin !== new URL(api).origin) elsewhere.push(req.url());
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

    // Open one operation and its 401 example: the error code is on the page.
    await page.getByText("/auth/sign-in", { exact: false }).first().click();
    await page.getByText("A new session (the one sent with the request ends)").first().waitFor();
    await page.locator("button, [role=tab], [role=radio], label", { hasText: /^401$/ }).first().click();
    await page.getByText("invalid_credentials").first().waitFor({ timeout: 10_000 });
    check("docs-page-shows-an-operations-error-codes", true);

    await page.waitForTimeout(1000);
    check("docs-page-loads-nothing-from-elsewhere", elsewhere.length === 0, elsewhere.join(", "));
    check("docs-page-needs-nothing-its-csp-refuses", refused.length === 0, refused.join(" | "));
} finally {
    await browser.close();
}
