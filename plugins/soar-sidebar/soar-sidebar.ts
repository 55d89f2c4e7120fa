/**
 * Runtime side of the SOAR sidebar (the editor side is soar-sidebar.html): passes this process's change notices
 * (lib/events) to the editors through Node-RED's comms, as `soar/cases`, `soar/approvals` and `soar/devices`.
 *
 * A burst is coalesced: each topic is published at most once per FLUSH_MS with the latest status of every id that
 * changed (at most MAX_ITEMS of them; `total` counts them all), so a thousand alerts grouped in a second make a
 * couple of messages, not a thousand. Messages carry ids and statuses only: every editor connection receives them,
 * and the sidebar fetches the content through the admin API, which checks the user's `soar.read` permission.
 */
import type { NodeAPI } from 'node-red';
import { soarEvents, type SoarEventName } from '../../lib/events';
import { CoalescingPublisher, TOPICS } from './coalesce';

/** The subscription of the last runtime that loaded this plugin (a test process may start several in turn). */
let previous: (() => void) | undefined;

export = function soarSidebar(RED: NodeAPI): void {
  previous?.();
  const publisher = new CoalescingPublisher((topic, data) => RED.comms.publish(topic, data, false));
  let unsubscribe: (() => void)[] = [];

  const subscribe = () => {
    if (unsubscribe.length > 0) return;
    unsubscribe = (Object.keys(TOPICS) as SoarEventName[]).map((name) =>
      soarEvents.on(name, (event) => publisher.add(name, event as never)),
    );
  };
  const unsubscribeAll = () => {
    for (const off of unsubscribe) off();
    unsubscribe = [];
  };
  // Flows stop on a full deploy and when the runtime stops: send what is pending, and listen again once they run.
  const onStarted = () => subscribe();
  const onStopped = () => {
    unsubscribeAll();
    publisher.flush();
  };
  RED.events.on('flows:started', onStarted);
  RED.events.on('flows:stopped', onStopped);
  subscribe();
  previous = () => {
    RED.events.off('flows:started', onStarted);
    RED.events.off('flows:stopped', onStopped);
    unsubscribeAll();
    publisher.stop();
  };

  RED.plugins.registerPlugin('soar-sidebar', { type: 'soar-sidebar' } as never);
};
