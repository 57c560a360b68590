// Check digits that separate real identifiers from look-alike numbers (order ids, timestamps).

/** Luhn (mod 10) over a string of ASCII digits. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

/**
 * ISO 13616 IBAN check: move the first four characters to the end, letters become 10..35,
 * and the resulting number mod 97 must be 1. Computed piecewise so it never needs a bigint.
 * `iban` is uppercase alphanumerics without spaces.
 */
export function ibanValid(iban: string): boolean {
  if (iban.length < 15 || iban.length > 34) return false;
  let rem = 0;
  for (let k = 0; k < iban.length; k++) {
    const c = iban.charCodeAt((k + 4) % iban.length);
    if (c >= 48 && c <= 57) {
      rem = (rem * 10 + (c - 48)) % 97;
    } else if (c >= 65 && c <= 90) {
      // Letters expand to two digits.
      rem = (rem * 100 + (c - 55)) % 97;
    } else {
      return false;
    }
  }
  return rem === 1;
}

/**
 * US SSN structural validity (SSA rules): area 000, 666 and 900-999 are never issued,
 * nor group 00 nor serial 0000.
 */
export function ssnValid(area: string, group: string, serial: string): boolean {
  if (area === "000" || area === "666" || area.charCodeAt(0) === 57 /* '9' */) return false;
  if (group === "00") return false;
  if (serial === "0000") return false;
  return true;
}
