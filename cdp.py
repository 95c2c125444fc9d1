from playwright.sync_api import sync_playwright
with sync_playwright() as p:
    b = p.chromium.connect_over_cdp("http://127.0.0.1:9334")
    print(len(b.contexts), [len(c.pages) for c in b.contexts])
    page = b.contexts[0].pages[0]
    print(page.url, page.inner_text("#x"))
    page.click("button")
    print(page.title())
    page.screenshot(path="/tmp/qtt/page.png")
