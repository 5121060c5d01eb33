//! AfterShip's mixed date formats: empty, `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SS` (local, no zone) or with
//! an offset. Stored raw; parsed leniently for ordering only. Never an error.

use time::{Date, Month};

/// Milliseconds since the Unix epoch for ordering. A date or a zone-less time is read as UTC.
/// `None` for empty or unreadable strings.
///
/// Accepted: `YYYY-MM-DD`, then optionally `T`, `t` or a space and `HH:MM`, `:SS`, a fraction
/// (`.` or `,` and digits), then optionally a zone: `Z`, `UTC`, `GMT`, `+HH:MM`, `+HHMM` or `+HH`
/// (or `-`), itself optionally after one space. Surrounding whitespace is ignored.
pub fn parse_lenient_ms(s: &str) -> Option<i64> {
    let mut cursor = Cursor { bytes: s.trim().as_bytes(), pos: 0 };
    if cursor.at_end() {
        return None;
    }

    let year = cursor.number(4)?;
    cursor.expect(b'-')?;
    let month = cursor.number(2)?;
    cursor.expect(b'-')?;
    let day = cursor.number(2)?;
    let date = Date::from_calendar_date(
        i32::try_from(year).ok()?,
        Month::try_from(u8::try_from(month).ok()?).ok()?,
        u8::try_from(day).ok()?,
    )
    .ok()?;
    let days_since_epoch = i64::from(date.to_julian_day()) - UNIX_EPOCH_JULIAN_DAY;
    let midnight_ms = days_since_epoch * MS_PER_DAY;
    if cursor.at_end() {
        return Some(midnight_ms);
    }

    match cursor.next()? {
        b'T' | b't' | b' ' => {}
        _ => return None,
    }
    let hour = cursor.number(2)?;
    cursor.expect(b':')?;
    let minute = cursor.number(2)?;
    let mut second = 0;
    let mut fraction_ms = 0;
    if cursor.peek() == Some(b':') {
        cursor.next();
        second = cursor.number(2)?;
        if matches!(cursor.peek(), Some(b'.' | b',')) {
            cursor.next();
            fraction_ms = cursor.fraction_ms()?;
        }
    }
    // 60 is a leap second; 24:00:00 is the end of the day.
    if hour > 24 || minute > 59 || second > 60 || (hour == 24 && (minute, second, fraction_ms) != (0, 0, 0)) {
        return None;
    }
    let offset_seconds = cursor.zone_offset_seconds()?;
    if !cursor.at_end() {
        return None;
    }
    let time_of_day_ms = (hour * 3600 + minute * 60 + second) * 1000 + fraction_ms;
    Some(midnight_ms + time_of_day_ms - offset_seconds * 1000)
}

/// When a due date has passed, in Unix ms: a date (`YYYY-MM-DD`) is due until its end, the next
/// midnight UTC after it; a date-time with an offset is that instant; one without a zone is read as
/// UTC. `None` for empty or unreadable strings.
pub fn due_end_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    let ms = parse_lenient_ms(s)?;
    Some(if s.len() == 10 { ms + MS_PER_DAY } else { ms })
}

const MS_PER_DAY: i64 = 86_400_000;
/// Julian day number of 1970-01-01.
const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.pos += 1;
        Some(byte)
    }

    fn expect(&mut self, wanted: u8) -> Option<()> {
        (self.next()? == wanted).then_some(())
    }

    /// Exactly `len` ASCII digits.
    fn number(&mut self, len: usize) -> Option<i64> {
        let mut value = 0i64;
        for _ in 0..len {
            let byte = self.next()?;
            if !byte.is_ascii_digit() {
                return None;
            }
            value = value * 10 + i64::from(byte - b'0');
        }
        Some(value)
    }

    /// One or more digits after the decimal point, as milliseconds (truncated).
    fn fraction_ms(&mut self) -> Option<i64> {
        let start = self.pos;
        let mut ms = 0i64;
        while let Some(byte) = self.peek().filter(u8::is_ascii_digit) {
            let digit_index = self.pos - start;
            if digit_index < 3 {
                ms += i64::from(byte - b'0') * [100, 10, 1][digit_index];
            }
            self.pos += 1;
        }
        (self.pos > start).then_some(ms)
    }

    /// The zone after the time, as seconds east of UTC. No zone is UTC.
    fn zone_offset_seconds(&mut self) -> Option<i64> {
        if self.peek() == Some(b' ') {
            self.next();
            if self.at_end() {
                return None;
            }
        }
        let rest = &self.bytes[self.pos..];
        if rest.is_empty() {
            return Some(0);
        }
        if rest.eq_ignore_ascii_case(b"z")
            || rest.eq_ignore_ascii_case(b"utc")
            || rest.eq_ignore_ascii_case(b"gmt")
        {
            self.pos = self.bytes.len();
            return Some(0);
        }
        let sign = match self.next()? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let hours = self.number(2)?;
        let minutes = if self.at_end() {
            0
        } else {
            if self.peek() == Some(b':') {
                self.next();
            }
            self.number(2)?
        };
        if hours > 23 || minutes > 59 {
            return None;
        }
        Some(sign * (hours * 3600 + minutes * 60))
    }
}

#[cfg(test)]
mod tests {
    use super::{due_end_ms, parse_lenient_ms};

    #[test]
    fn a_due_date_ends_at_the_end_of_its_day_and_a_due_time_at_that_time() {
        // 2026-12-03 ends at midnight UTC starting 2026-12-04.
        assert_eq!(due_end_ms("2026-12-03"), Some(1_796_342_400_000));
        assert_eq!(due_end_ms(" 2026-12-03 "), Some(1_796_342_400_000));
        assert_eq!(due_end_ms("2026-12-03T18:00:00+02:00"), Some(1_796_313_600_000));
        assert_eq!(due_end_ms("2026-12-03T16:00:00Z"), Some(1_796_313_600_000));
        // Without a zone: read as UTC.
        assert_eq!(due_end_ms("2026-12-03T16:00:00"), Some(1_796_313_600_000));
        assert_eq!(due_end_ms(""), None);
        assert_eq!(due_end_ms("soon"), None);
    }

    /// 2021-01-14T00:52:00Z in ms.
    const PICKUP_MS: i64 = 1_610_585_520_000;

    #[test]
    fn empty_and_blank_are_none() {
        assert_eq!(parse_lenient_ms(""), None);
        assert_eq!(parse_lenient_ms("   "), None);
    }

    #[test]
    fn date_only_is_utc_midnight() {
        assert_eq!(parse_lenient_ms("1970-01-01"), Some(0));
        assert_eq!(parse_lenient_ms("2021-01-14"), Some(1_610_582_400_000));
        assert_eq!(parse_lenient_ms("2024-02-29"), Some(1_709_164_800_000));
    }

    #[test]
    fn zoneless_time_is_read_as_utc() {
        assert_eq!(parse_lenient_ms("2021-01-14T00:52:00"), Some(PICKUP_MS));
        assert_eq!(parse_lenient_ms("2021-01-14 00:52:00"), Some(PICKUP_MS));
        assert_eq!(parse_lenient_ms("2021-01-14t00:52:00"), Some(PICKUP_MS));
        assert_eq!(parse_lenient_ms("2021-01-14T00:52"), Some(PICKUP_MS));
    }

    #[test]
    fn fractional_seconds() {
        assert_eq!(parse_lenient_ms("2021-01-14T00:52:00.5"), Some(PICKUP_MS + 500));
        assert_eq!(parse_lenient_ms("2021-01-14T00:52:00.123Z"), Some(PICKUP_MS + 123));
        assert_eq!(parse_lenient_ms("2021-01-14T00:52:00.123456789+00:00"), Some(PICKUP_MS + 123));
        assert_eq!(parse_lenient_ms("2021-01-14T00:52:00,25"), Some(PICKUP_MS + 250));
        assert_eq!(parse_lenient_ms("2021-01-14T00:52:00."), None);
    }

    #[test]
    fn zones() {
        assert_eq!(parse_lenient_ms("2021-01-14T00:52:00Z"), Some(PICKUP_MS));
        assert_eq!(parse_lenient_ms("2021-01-14T00:52:00z"), Some(PICKUP_MS));
        assert_eq!(parse_lenient_ms("2021-01-14T00:52:00+00:00"), Some(PICKUP_MS));
        assert_eq!(parse_lenient_ms("2021-01-14T10:41:24+00:00"), Some(1_610_620_884_000));
        // 02:52 at +02:00 is 00:52 UTC.
        assert_eq!(parse_lenient_ms("2021-01-14T02:52:00+02:00"), Some(PICKUP_MS));
        assert_eq!(parse_lenient_ms("2021-01-14T02:52:00+0200"), Some(PICKUP_MS));
        assert_eq!(parse_lenient_ms("2021-01-14T02:52:00+02"), Some(PICKUP_MS));
        assert_eq!(parse_lenient_ms("2021-01-13T19:52:00-05:00"), Some(PICKUP_MS));
        assert_eq!(parse_lenient_ms("2021-01-13T19:52:00-0500"), Some(PICKUP_MS));
        assert_eq!(parse_lenient_ms("2021-01-14T06:22:00+05:30"), Some(PICKUP_MS));
        assert_eq!(parse_lenient_ms("2021-01-14 02:52:00 +02:00"), Some(PICKUP_MS));
        assert_eq!(parse_lenient_ms("2021-01-14 00:52:00 UTC"), Some(PICKUP_MS));
        assert_eq!(parse_lenient_ms("  2021-01-14T00:52:00Z\n"), Some(PICKUP_MS));
    }

    #[test]
    fn ordering_across_zones() {
        let earlier = parse_lenient_ms("2021-01-14T10:00:00+02:00").unwrap();
        let later = parse_lenient_ms("2021-01-14T09:00:00Z").unwrap();
        assert!(earlier < later);
    }

    #[test]
    fn garbage_is_none_and_never_panics() {
        for s in [
            "not a date",
            "2021",
            "2021-01",
            "2021-1-14",
            "21-01-14",
            "2021-13-01",
            "2021-02-30",
            "2023-02-29",
            "2021-00-10",
            "2021-01-14T25:00:00",
            "2021-01-14T10:60:00",
            "2021-01-14T10:00:61",
            "2021-01-14T10",
            "2021-01-14T10:00:00+",
            "2021-01-14T10:00:00+2",
            "2021-01-14T10:00:00+24:00",
            "2021-01-14T10:00:00+02:60",
            "2021-01-14T10:00:00Zjunk",
            "2021-01-14X10:00:00",
            "2021-01-14T",
            "1610620885",
            "２０２１-01-14",
            "2021-01-14T10:00:00\u{e9}",
            "-2021-01-14",
        ] {
            assert_eq!(parse_lenient_ms(s), None, "{s:?} should not parse");
        }
    }

    #[test]
    fn edge_values() {
        assert_eq!(parse_lenient_ms("2021-01-14T24:00:00"), parse_lenient_ms("2021-01-15"));
        assert!(parse_lenient_ms("2016-12-31T23:59:60Z").is_some());
        assert_eq!(parse_lenient_ms("0001-01-01"), Some(-62_135_596_800_000));
        assert_eq!(parse_lenient_ms("9999-12-31T23:59:59.999-23:59").map(|ms| ms > 0), Some(true));
    }
}
