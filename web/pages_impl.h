/* pages_impl.h: the HTML pieces pages.c shares with adminpage.c (the domain administrator's
   page), two files of the member program's pages. Not for other modules: they use pages.h.
   Each appends to b and returns 0, or -1 when b is full (b's bound, buf.h). */
#ifndef YUBIN_PAGES_IMPL_H
#define YUBIN_PAGES_IMPL_H

#include "pages.h"

int esc(struct buf *b, const char *s);                  /* HTML-escaped text */
int plan_label(struct buf *b, const char *id);          /* a plan by the manual's name */
int both(struct buf *b, const char *ja, const char *en);    /* "日本語" and the English */
int head(struct buf *b, const char *ja, const char *en);    /* the page up to its heading */
int tail(struct buf *b);                                /* the page's end */
int message(struct buf *b, const struct msg *m);        /* m as a status line; none if NULL */
int csrf_field(struct buf *b, const char *csrf);        /* the form's hidden token */
int row_text(struct buf *b, const char *ja, const char *en, const char *id,
             const char *text);                         /* a table row, its value escaped */
int logout_form(struct buf *b, const char *csrf);       /* the log-out button */

#endif
