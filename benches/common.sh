# Helpers shared by the benchmark scripts; sourced, not run.

# The process's memory figure KEY (VmRSS, VmHWM) from /proc, in MiB.
rss() { awk -v key="$2:" '$1 == key { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

# Waits up to 10 s for something to listen on PORT on loopback; fails the script otherwise.
wait_port() {
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "nothing listens on $1" >&2
  exit 1
}
