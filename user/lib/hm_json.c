// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* hm_json.c - JSON strings for hm-stat's documents and hm-load --status --json. */
#include "hm_json.h"

void hm_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}
