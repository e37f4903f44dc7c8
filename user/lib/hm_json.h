/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* hm_json.h - the little JSON the tools write: strings, escaped once here. */
#ifndef HM_JSON_H
#define HM_JSON_H

#include <stdio.h>

/* s as a JSON string: quotes and backslashes escaped, control bytes as \u00XX. */
void hm_json_str(FILE *f, const char *s);

#endif /* HM_JSON_H */
