# SPDX-License-Identifier: GPL-2.0
# The benchmark's job in the guest; harness/bench.sh prepends RUNS,
# RUNTIME, ONLY, WORKLOADS, BT (host tools) and KSFT (kselftest binaries).
# Writes $SHARE/results.csv: config,workload,run,value,unit,requests.
set -u
B=$SCRATCH/bench
OUT=$SHARE/results.csv
M=/tmp/bench
NODEV="root_dir=3,no_daemon,rootmode=40000,user_id=0,group_id=0,allow_other"

ALL_CONFIGS="native overlay bpf bpf_pre bpf_prepost server_backed fuse
fuse_passthrough"
ALL_WORKLOADS="seqread_4k seqread_1m seqwrite_4k seqwrite_1m randread_4k
randwrite_4k seqread_1m_2j seqwrite_1m_2j randread_4k_2j randwrite_4k_2j
stat create_unlink readdir untar find ls_lR"
CONFIGS=${ONLY:-$ALL_CONFIGS}
CONFIGS=${CONFIGS//,/ }
WLS=${WORKLOADS:-$ALL_WORKLOADS}
WLS=${WLS//,/ }

log() { echo "bench: $*" >&2; }

# The shared data, made on ext4 before any mount
mkdir -p $B/data $M
$BT/fsbench mktree $B/data/tree 20 250 >/dev/null
$BT/fsbench mkdir_entries $B/data/big 10000 >/dev/null
tar -C /usr/include -cf /tmp/linux.tar linux
sync
# libfuse splices requests through 1 MiB pipes
sysctl -qw fs.pipe-max-size=2097152
# The classic server holds an O_PATH descriptor per inode it knows
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"
grep -q fusectl /proc/mounts ||
	mount -t fusectl fusectl /sys/fs/fuse/connections

# The connection directory of the FUSE mount on $1, by its device number
conn_of() {
	awk -v m="$1" '$5 == m { split($3, d, ":"); print d[2] }' \
		/proc/self/mountinfo
}

# wait_mount DIR: the server of a mount on DIR may take a while
wait_mount() {
	local i

	for i in $(seq 100); do
		grep -q " $1 fuse" /proc/mounts && return 0
		sleep 0.1
	done
	return 1
}

# Mount configuration $1; sets DIR (where the workloads run) and CONN
declare -A DIR CONN
mount_config() {
	local c=$1 m=$M/$1

	mkdir -p $m
	case $c in
	native)
		DIR[$c]=$B/data ;;
	overlay)
		# The stacking cost of the kernel's other stacked filesystem
		mkdir -p $B/ovl_lower $B/ovl_work
		mount -t overlay overlay -o lowerdir=$B/ovl_lower \
			-o upperdir=$B/data,workdir=$B/ovl_work $m || return 1
		DIR[$c]=$m ;;
	bpf)
		exec 3<$B/data
		mount -i -t fuse -o $NODEV fuse-bpf $m || return 1
		exec 3<&-
		DIR[$c]=$m ;;
	bpf_pre)
		$KSFT/bench_mount pre $B/data $m >&2 || return 1
		DIR[$c]=$m ;;
	bpf_prepost)
		$KSFT/bench_mount prepost $B/data $m >&2 || return 1
		DIR[$c]=$m ;;
	server_backed)
		$KSFT/bench_mount server $B/data $m >&2 || return 1
		DIR[$c]=$m/data ;;
	fuse)
		$BT/passthrough_ll --log=/tmp/fuse.log --pidfile=/tmp/fuse.pid \
			-o allow_other $B/data $m &
		wait_mount $m || return 1
		DIR[$c]=$m ;;
	fuse_passthrough)
		$BT/passthrough_ll --passthrough --pidfile=/tmp/fuse_pt.pid \
			-o allow_other $B/data $m &
		wait_mount $m || return 1
		DIR[$c]=$m ;;
	esac
	case $c in native | overlay) ;; *) CONN[$c]=$(conn_of $m) ;; esac
	mkdir -p ${DIR[$c]}/w_$c
}

# Requests the server of configuration $1 received so far, or -
sent() {
	local f=/sys/fs/fuse/connections/${CONN[$1]:-x}/requests

	[ -r $f ] || { echo -; return; }
	awk '/^sent_total/ { print $2 }' $f
}

# fio_job DIR RW BS JOBS: one time-based fio run; "value unit"
fio_job() {
	local dir=$1 rw=$2 bs=$3 jobs=$4 size=64m extra=

	case $rw in *write) extra=--end_fsync=1 ;; esac
	# --thread: the guest kernel has no System V shared memory
	fio --name=w --directory=$dir --rw=$rw --bs=$bs --numjobs=$jobs \
		--size=$size --ioengine=psync --time_based --runtime=$RUNTIME \
		--thread --group_reporting --output-format=json $extra \
		2>>$SHARE/fio.err |
	python3 -c 'import json, sys
j = json.load(sys.stdin)["jobs"][0]
rw = sys.argv[1]
d = j["write" if "write" in rw else "read"]
if rw.startswith("rand"):
	print("%.1f IOPS" % d["iops"])
else:
	print("%.1f MB/s" % (d["bw_bytes"] / 1e6))' $rw
}

# seconds CMD...: the time CMD takes; "value s"
seconds() {
	local t0 t1

	t0=$(date +%s%N)
	"$@" >/dev/null 2>>$SHARE/commands.err || return 1
	t1=$(date +%s%N)
	awk -v n=$((t1 - t0)) 'BEGIN { printf "%.3f s\n", n / 1e9 }'
}

# workload NAME CONFIG: one run; "value unit"
workload() {
	local d=${DIR[$2]} w=${DIR[$2]}/w_$2

	case $1 in
	seqread_4k) fio_job $w read 4k 1 ;;
	seqread_1m) fio_job $w read 1m 1 ;;
	seqwrite_4k) fio_job $w write 4k 1 ;;
	seqwrite_1m) fio_job $w write 1m 1 ;;
	randread_4k) fio_job $w randread 4k 1 ;;
	randwrite_4k) fio_job $w randwrite 4k 1 ;;
	seqread_1m_2j) fio_job $w read 1m 2 ;;
	seqwrite_1m_2j) fio_job $w write 1m 2 ;;
	randread_4k_2j) fio_job $w randread 4k 2 ;;
	randwrite_4k_2j) fio_job $w randwrite 4k 2 ;;
	stat) $BT/fsbench stat $d/tree $RUNTIME ;;
	create_unlink)
		mkdir -p $w/cu && $BT/fsbench create_unlink $w/cu 2000 ;;
	readdir) $BT/fsbench readdir $d/big $RUNTIME ;;
	untar)
		rm -rf $w/x && mkdir $w/x &&
		seconds tar -C $w/x -xf /tmp/linux.tar ;;
	# From inside, as fsbench: the guest's 9p root refuses RCU walks
	find) (cd $w && seconds find x) ;;
	ls_lR) (cd $w && seconds ls -lR x) ;;
	esac
}

UP=
for c in $CONFIGS; do
	if mount_config $c; then
		UP="$UP $c"
	else
		log "$c: could not be set up, left out"
	fi
done
CONFIGS=$UP

echo config,workload,run,value,unit,requests >$OUT
for wl in $WLS; do
	# Run 0 warms the caches and lays the files out; it is not kept
	for r in $(seq 0 $RUNS); do
		for c in $CONFIGS; do
			before=$(sent $c)
			res=$(workload $wl $c) || res=
			after=$(sent $c)
			if [ -z "$res" ]; then
				log "$wl on $c failed (see fio.err, commands.err)"
				continue
			fi
			req=-
			[ "$before" = - ] || req=$((after - before))
			[ $r -eq 0 ] ||
				echo "$c,$wl,$r,${res% *},${res#* },$req" >>$OUT
		done
	done
	log "$wl done"
done

# The classic server's own count against the kernel's, before unmounting
: >$SHARE/crosscheck.txt
if [ -n "${CONN[fuse]:-}" ] && [ -s /tmp/fuse.pid ]; then
	kill -USR1 "$(cat /tmp/fuse.pid)"
	sleep 1
	echo "classic server: kernel sent_total $(sent fuse)," \
		"server log $(awk '/^total/ { print $2 }' /tmp/fuse.log)" \
		>>$SHARE/crosscheck.txt
fi
for c in $CONFIGS; do
	[ $c = native ] || umount $M/$c || umount -l $M/$c
done
exit 0
