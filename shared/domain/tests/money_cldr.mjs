// Writes money_cldr.json: how ICU (through Node's Intl.NumberFormat, standard currency style)
// writes a set of amounts in every locale and currency of src/locale.rs. The test
// money_cldr.rs holds the shop's formatter to it. Regenerate with the same ICU/CLDR
// (recorded in the file) after changing the tables:
//   node shared/domain/tests/money_cldr.mjs > shared/domain/tests/money_cldr.json
const locales = ["en-US", "en-GB", "en-CA", "en-AU", "en-NZ", "en-IE", "de-DE", "de-AT", "fr-FR", "fr-CA",
  "fr-BE", "nl-NL", "nl-BE", "es-ES", "it-IT", "sv-SE", "da-DK", "nb-NO", "fi-FI", "pl-PL", "ja-JP"];
const currencies = ["usd", "eur", "gbp", "cad", "aud", "nzd", "chf", "sek", "dkk", "nok", "pln", "jpy"];
const amounts = [5, -350, 123456, 1234567, -123456789];
const cases = [];
for (const locale of locales) {
  for (const currency of currencies) {
    const format = new Intl.NumberFormat(locale, { style: "currency", currency: currency.toUpperCase() });
    const digits = format.resolvedOptions().maximumFractionDigits;
    for (const amount of amounts) {
      cases.push([locale, currency, amount, format.format(amount / 10 ** digits)]);
    }
  }
}
const out = { icu: process.versions.icu, cldr: process.versions.cldr, cases };
// Non-ASCII as \u escapes, so that the no-break spaces show in a diff.
const json = JSON.stringify(out).replace(/[\u0080-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
process.stdout.write(json.replace(/\],\[/g, "],\n[") + "\n");
