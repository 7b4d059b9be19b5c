import { describe, expect, it } from "vitest";
import { isInternalHost, webhookUrlProblem } from "../../src/webhooks/url";

describe("webhook URLs", () => {
  it("accepts public https URLs", () => {
    for (const url of [
      "https://api.example.com/hooks/dovetail",
      "https://hooks.example.org:8443/x?y=1",
      "https://93.184.216.34/h",
      "https://[2606:4700::1]/h",
    ]) {
      expect(webhookUrlProblem(url, false), url).toBeNull();
    }
  });

  it("refuses http, credentials, fragments, junk and very long URLs", () => {
    expect(webhookUrlProblem("http://api.example.com/h", false)).toMatch(/https/);
    expect(webhookUrlProblem("ftp://api.example.com/h", true)).toMatch(/https/);
    expect(webhookUrlProblem("https://user:pw@api.example.com/h", false)).toMatch(/credentials/);
    expect(webhookUrlProblem("https://api.example.com/h#x", false)).toMatch(/fragment/);
    expect(webhookUrlProblem("not a url", false)).toMatch(/absolute/);
    expect(webhookUrlProblem(`https://api.example.com/${"a".repeat(2_100)}`, false)).toMatch(/longer/);
  });

  it("refuses loopback, private, link-local and local names, however they are spelled", () => {
    const internal = [
      "https://localhost/h",
      "https://app.localhost/h",
      "https://printer.local/h",
      "https://metadata.google.internal/h",
      "https://intranet/h",
      "https://127.0.0.1/h",
      "https://127.1/h",
      "https://2130706433/h",
      "https://0x7f.0.0.1/h",
      "https://0.0.0.0/h",
      "https://10.1.2.3/h",
      "https://172.16.0.1/h",
      "https://172.31.255.255/h",
      "https://192.168.1.1/h",
      "https://169.254.169.254/latest/meta-data",
      "https://100.64.0.1/h",
      "https://224.0.0.1/h",
      "https://[::1]/h",
      "https://[::ffff:127.0.0.1]/h",
      "https://[::ffff:10.0.0.1]/h",
      "https://[fd00::1]/h",
      "https://[fe80::1]/h",
      "https://LOCALHOST./h",
    ];
    for (const url of internal) expect(webhookUrlProblem(url, false), url).toMatch(/loopback/);
    expect(isInternalHost("172.32.0.1")).toBe(false);
    expect(isInternalHost("[::ffff:8.8.8.8]")).toBe(false);
  });

  it("allows http and local addresses in DEV_MODE, for a receiver on the developer's machine", () => {
    expect(webhookUrlProblem("http://127.0.0.1:8788/hooks", true)).toBeNull();
    expect(webhookUrlProblem("https://localhost/hooks", true)).toBeNull();
  });
});
