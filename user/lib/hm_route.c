// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* hm_route.c - route grouping options: parsing them into hm_config / hm_route_pattern. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hm_common.h"
#include "hm_route.h"

#define HM_METHOD_NAME(sym, name, len, word) [HM_METHOD_##sym] = name,
static const char *const method_names[HM_METHOD_EXT_FIRST] = { [HM_METHOD_NONE] = "",
							       HM_METHOD_LIST(HM_METHOD_NAME) };
#undef HM_METHOD_NAME

/* Names of the extension methods, from hm_method_ids (hm_method_name_set). */
static char ext_names[HM_MAX_EXT_METHODS][HM_METHOD_TOKEN_MAX + 1];

void hm_method_name_set(unsigned int method, const char *name, size_t len)
{
	unsigned int i = method - HM_METHOD_EXT_FIRST;

	if (method < HM_METHOD_EXT_FIRST || i >= HM_MAX_EXT_METHODS)
		return;
	if (len > HM_METHOD_TOKEN_MAX)
		len = HM_METHOD_TOKEN_MAX;
	memcpy(ext_names[i], name, len);
	ext_names[i][len] = '\0';
}

const char *hm_method_name(unsigned int method)
{
	static char unnamed[32];

	if (method < HM_METHOD_EXT_FIRST)
		return method_names[method];
	if (method == HM_METHOD_OTHER)
		return "_other";
	if (method - HM_METHOD_EXT_FIRST < HM_MAX_EXT_METHODS &&
	    ext_names[method - HM_METHOD_EXT_FIRST][0])
		return ext_names[method - HM_METHOD_EXT_FIRST];
	snprintf(unnamed, sizeof(unnamed), "_method_%u", method);
	return unnamed;
}

int hm_route_group_parse(const char *spec, struct hm_config *cfg, char *err, size_t errlen)
{
	unsigned long depth = HM_ROUTE_DEPTH_DEFAULT;
	const char *name;
	size_t len;

	if (!strcmp(spec, "none")) {
		cfg->route_mode = HM_ROUTE_NONE;
		return 0;
	}
	if (!strcmp(spec, "path") || !strncmp(spec, "path:", 5)) {
		if (spec[4] == ':' && !hm_parse_ulong(spec + 5, 1, HM_ROUTE_DEPTH_MAX, &depth)) {
			snprintf(err, errlen, "invalid depth in '%s' (1-%d)", spec,
				 HM_ROUTE_DEPTH_MAX);
			return -EINVAL;
		}
		cfg->route_mode = HM_ROUTE_PATH;
		cfg->route_depth = depth;
		return 0;
	}
	if (!strncmp(spec, "query:", 6)) {
		name = spec + 6;
		len = strlen(name);
		if (!len || len > HM_QUERY_NAME_LEN || strpbrk(name, "&=#? ")) {
			snprintf(
				err, errlen,
				"invalid query parameter name in '%s' (1-%d characters, none of &=#? or space)",
				spec, HM_QUERY_NAME_LEN);
			return -EINVAL;
		}
		cfg->route_mode = HM_ROUTE_QUERY;
		cfg->query_len = len;
		memset(cfg->query_name, 0, sizeof(cfg->query_name));
		memcpy(cfg->query_name, name, len);
		return 0;
	}
	snprintf(err, errlen, "unknown grouping '%s' (path[:DEPTH], query:NAME or none)", spec);
	return -EINVAL;
}

int hm_route_pattern_parse(const char *text, bool prefix, struct hm_route_pattern *out, char *err,
			   size_t errlen)
{
	const char *p = text, *label;
	unsigned int nsegs = 0;

	memset(out, 0, sizeof(*out));
	out->prefix = prefix;
	for (unsigned int m = HM_METHOD_GET; m < HM_METHOD_EXT_FIRST; m++) {
		size_t n = strlen(method_names[m]);

		if (!strncmp(p, method_names[m], n) && p[n] == ' ') {
			out->method = m;
			p += n + 1;
			break;
		}
	}
	label = p;
	if (*p != '/') {
		snprintf(err, errlen,
			 "route pattern '%s' must start with '/' (after an optional method)", text);
		return -EINVAL;
	}
	if (strlen(label) > HM_ROUTE_LEN) {
		snprintf(err, errlen, "route pattern '%s' is longer than %d characters", text,
			 HM_ROUTE_LEN);
		return -EINVAL;
	}
	if (strpbrk(label, "?# ")) {
		snprintf(err, errlen, "route pattern '%s' may not contain '?', '#' or spaces",
			 text);
		return -EINVAL;
	}
	memcpy(out->label, label, strlen(label));

	while (*p) {
		const char *seg, *end;
		__u64 hash = HM_FNV_OFFSET;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		seg = p;
		end = strchr(seg, '/');
		if (!end)
			end = seg + strlen(seg);
		if (nsegs >= HM_PATTERN_SEGS) {
			snprintf(err, errlen, "route pattern '%s' has more than %d segments", text,
				 HM_PATTERN_SEGS);
			return -EINVAL;
		}
		if (*seg == '{' && end[-1] == '}') {
			out->wild |= 1U << nsegs;
		} else {
			for (const char *c = seg; c < end; c++)
				hash = hm_fnv1a_byte(hash, (unsigned char)*c);
			out->seg_hash[nsegs] = hash;
		}
		nsegs++;
		p = end;
	}
	out->nsegs = nsegs;
	return 0;
}
