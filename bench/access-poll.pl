#!/usr/bin/perl
# access-poll.pl: the timing half of bench/run-access.sh, in one process (a process
# start costs ~0.3 s under qemu TCG, more than what is measured).
#
#   access-poll.pl LOG GAP_MS TIMEOUT SRC DST [SRC DST...]
#
# For each pair: rename(SRC, DST) into a watched peers.d, then read hubd's --debug LOG
# (only its new bytes, every 2 ms) until a line "reconcile (...) took N us" appears that
# was written after the rename: hubd logs it once the reconcile is done, its nftables
# transaction included. Prints a line per step ("step K: applied A ms, reconcile R ms (nft F ms)")
# and then "median A R F": A is rename to that line (wall clock, debounce included), R the
# reconcile's own figure, F its nftables part (the "nft" field of the same line). Sleeps GAP_MS between steps so that each is its own reconcile.
# Exit 1 on a timeout.
use strict;
use warnings;
use Time::HiRes qw(time sleep);

my ($log, $gap, $timeout, @pairs) = @ARGV;
die "usage: $0 LOG GAP_MS TIMEOUT SRC DST...\n" unless @pairs && @pairs % 2 == 0;
$| = 1;

sub median {
	my @v = sort { $a <=> $b } @_;
	return $v[int($#v / 2)];
}

my (@applied, @took, @nft);
for (my $k = 0; $k < @pairs; $k += 2) {
	my ($src, $dst) = @pairs[$k, $k + 1];
	my $off = -s $log // 0;
	my $t0 = time;
	rename($src, $dst) or die "rename $src: $!\n";
	my ($seen, $us, $nft);
	my $rest = '';
	while (!defined $seen) {
		die "no reconcile line within ${timeout}s of step " . ($k / 2 + 1) . "\n"
		  if time - $t0 > $timeout;
		open(my $f, '<', $log) or die "$log: $!\n";
		seek($f, $off, 0);
		my $n = read($f, my $buf, 1 << 20);
		close $f;
		if ($n) {
			$off += $n;
			$buf = $rest . $buf;
			my @lines = split /\n/, $buf, -1;
			$rest = pop @lines; # a line still being written is read again whole
			for (@lines) {
				if (/reconcile \(.*\) took (\d+) us.* nft (\d+)\)/) {
					$seen = time;
					($us, $nft) = ($1, $2);
					last;
				}
			}
		}
		sleep 0.002 unless defined $seen;
	}
	push @applied, ($seen - $t0) * 1000;
	push @took, $us / 1000;
	push @nft, $nft / 1000;
	printf "step %d: applied %.1f ms, reconcile %.1f ms (nft %.1f ms)\n", $k / 2 + 1,
	  $applied[-1], $took[-1], $nft[-1];
	sleep $gap / 1000;
}
printf "median %.1f %.1f %.1f\n", median(@applied), median(@took), median(@nft);
