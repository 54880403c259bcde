"""Driving the web map headless: Debian's chromium, as the tests and the page bench launch it.

WebGL 2 works in it through SwiftShader (software); no browser is ever downloaded.
"""

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--enable-unsafe-swiftshader",
    "--use-angle=swiftshader",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
