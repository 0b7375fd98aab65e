// A process that holds a partition rule until it is stopped, for net.test.ts: it creates its
// nftables table, cuts the link given on the command line, installs the same exit handlers as a
// nemesis run, prints "ready <table>", and waits.
import { NetworkFaults, onExit } from './net.js';

const [from, to] = process.argv.slice(2);
if (from === undefined || to === undefined) throw new Error('usage: net-holder.ts FROM TO');
const net = new NetworkFaults();
net.init();
onExit(() => net.destroy());
net.apply([{ from, to }]);
process.stdout.write(`ready ${net.table}\n`);
setInterval(() => undefined, 60_000);
