# shellcheck shell=bash
# nginx.sh - Debian's nginx as a test server, with nothing under /etc/nginx.
#
# Source it; it defines functions only.
#
# hm_nginx_up NETNS DIR SERVERS: writes DIR/nginx.conf - HM_NGINX_WORKERS
# worker processes (default 1; "auto": one per CPU) as user nobody, its pid, logs and temporary files under DIR - whose http block
# holds SERVERS (server and upstream blocks), and starts nginx in network
# namespace NETNS.  DIR/www is there for static files (readable by the
# worker, as are DIR and its parent: hm_nginx_up makes them 0755).  Returns
# nginx's status; its messages are in DIR/nginx.err and
# DIR/logs/error.log.
# hm_nginx_down DIR: stops that nginx (the master whose pid is in
# DIR/nginx.pid) and waits up to 5 s for it to go.

hm_nginx_up() {
	local ns=$1 dir=$2 servers=$3 v temp m
	mkdir -p "$dir/logs" "$dir/temp" "$dir/www" || return 1
	chmod 0755 "$(dirname "$dir")" "$dir" "$dir/www"
	chown nobody:nogroup "$dir/temp"
	v=$(nginx -V 2>&1)
	temp="client_body_temp_path $dir/temp/body;"
	for m in proxy fastcgi uwsgi scgi; do
		[[ $v == *"--without-http_${m}_module"* ]] || temp="$temp
	${m}_temp_path $dir/temp/$m;"
	done
	cat >"$dir/nginx.conf" <<EOF
# written by tests/lib/nginx.sh; nothing under /etc/nginx is read
user nobody nogroup;
worker_processes ${HM_NGINX_WORKERS:-1};
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	default_type application/octet-stream;
	keepalive_timeout 60s;
	$temp
$servers
}
EOF
	ip netns exec "$ns" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" \
		2>"$dir/nginx.err"
}

hm_nginx_down() {
	local dir=$1 pid i
	pid=$(cat "$dir/nginx.pid" 2>/dev/null) || return 0
	[ -n "$pid" ] || return 0
	kill -QUIT "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	return 0
}
