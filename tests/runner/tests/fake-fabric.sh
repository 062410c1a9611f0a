#!/bin/sh
# A stand-in for rsio-fabric in rsio-cluster's CLI tests: the same files, the
# same ready line and the same SIGTERM behaviour as `rsio-fabric serve`, but
# no emulation.
#
#   serve --dir DIR --nodes N ...   logs its arguments to stderr, writes
#       DIR/node<i>.qemu-args (one argument per line), says it is ready and
#       runs until SIGTERM (then exits 0). `--lut-slots 13` makes it fail
#       before it is ready (exit 2).
#   ctl --dir DIR WORDS...          appends WORDS to DIR/ctl.log and prints a
#       JSON reply.
command=$1
shift
all="$*"
dir=
nodes=0
while [ $# -gt 0 ]; do
    case $1 in
    --dir) dir=$2; shift 2 ;;
    --nodes) nodes=$2; shift 2 ;;
    --lut-slots)
        if [ "$2" = 13 ]; then
            echo "rsio-fabric: lut_slots 13 is unlucky" >&2
            exit 2
        fi
        shift 2
        ;;
    --*) shift 2 ;;
    *) break ;;
    esac
done
case $command in
serve)
    echo "fake-fabric: serve $all" >&2
    i=0
    while [ "$i" -lt "$nodes" ]; do
        printf -- '-object\nmemory-backend-file,id=ram,mem-path=%s/fabric.mem,size=1M,share=on\n-machine\nq35,memory-backend=ram\n-device\n{"driver":"vfio-user-pci","socket":{"path":"%s/node%d.sock","type":"unix"}}\n' \
            "$dir" "$dir" "$i" >"$dir/node$i.qemu-args"
        i=$((i + 1))
    done
    trap 'echo "fake-fabric: SIGTERM, stopping" >&2; exit 0' TERM
    echo "rsio-fabric: ready"
    while :; do sleep 0.05; done
    ;;
ctl)
    echo "$*" >>"$dir/ctl.log"
    echo "{\"ok\":true,\"request\":\"$*\"}"
    ;;
*)
    echo "fake-fabric: unknown command $command" >&2
    exit 2
    ;;
esac
