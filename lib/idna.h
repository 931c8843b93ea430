/* idna.h: a domain name with UTF-8 labels (U-labels) in its ASCII form (A-labels, "xn--" and
   Punycode, RFC 5891 §4.4 and RFC 3492), for DNS lookups, our maps and SMTP servers without
   SMTPUTF8. The mapping applied first is the part of UTS #46 that mail programs meet: ASCII
   upper case to lower case, full-width ASCII (U+FF01..U+FF5E) to ASCII, the capitals of
   Latin-1 (U+00C0..U+00DE), Greek (U+0391..U+03A9) and Cyrillic (U+0400..U+042F) to lower
   case, and the ideographic full stops U+3002, U+FF0E, U+FF61 as label separators. No
   Unicode normalization: a name is expected in NFC, as mail programs send it. */
#ifndef YUBIN_IDNA_H
#define YUBIN_IDNA_H

#include <stddef.h>

#define IDNA_LABEL_MAX   63     /* octets of an A-label (RFC 1035 §2.3.4) */
#define IDNA_CP_MAX      IDNA_LABEL_MAX   /* code points of one label: every one takes at
                                             least one octet of the A-label */

/* Convert the n octets of in to A-labels in out (cap octets, NUL included). Returns the
   length, or -1: not valid UTF-8, a control or space, ASCII other than a letter, digit or
   hyphen (STD3 rules: also full-width ＠ and the like once mapped), an empty label, a label over 63
   octets once converted, a name over 253 octets, or out too small. An ASCII name comes out
   in lower case. */
int idna_to_ascii(const char *in, size_t n, char *out, size_t cap);

/* Full-width ASCII (U+FF01..U+FF5E, what a Japanese input method types in its full-width
   mode: ｔａｒｏ＠日本語．ｊｐ) to ASCII, everything else copied as it is, from the n octets of
   in to out (cap octets, NUL included). Returns the length, or -1: not valid UTF-8, a NUL, or
   out too small. (NFKC, which SASLprep applies to a login (RFC 4013 §2), maps these so.) */
int idna_fold_fullwidth(const char *in, size_t n, char *out, size_t cap);

#endif
