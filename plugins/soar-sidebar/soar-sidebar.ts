/**
 * Runtime side of the SOAR sidebar (the editor side is soar-sidebar.html): passes this process's change notices
 * (lib/events) to the editors through Node-RED's comms, as `soar/cases`, `soar/approvals` and `soar/devices`.
 *
 * A burst is coalesced: each topic is published at most once per FLUSH_MS, so a thousand alerts grouped in a second
 * make a couple of messages, not a thousand. A message is a bare `{ changed: true }`: every editor connection
 * receives it, whatever the user's permissions, so it names no case, approval or device; the sidebar re-reads
 * through the admin API, which checks the user's `soar.read` permission.
 */
import type { NodeAPI } from 'node-red';
import { soarEvents, type SoarEventName } from '../../lib/events';
import { CoalescingPublisher, TOPICS } from './coalesce';

/** Ends the subscription of the last runtime that loaded this plugin (a test process may start several in turn). */
let previous: (() => void) | undefined;

export = function soarSidebar(RED: NodeAPI): void {
  previous?.();
  const publisher = new CoalescingPublisher((topic, data) => RED.comms.publish(topic, data, false));
  // One subscription for the life of the plugin: lib/events is process-wide and its emitters (the stores, the
  // fleet) outlive a deploy, so a change made while flows restart (an analyst's PATCH) is still told.
  const unsubscribe = (Object.keys(TOPICS) as SoarEventName[]).map((name) =>
    soarEvents.on(name, () => publisher.add(name)),
  );
  // Flows stop on a full deploy and when the runtime stops: send what is pending now rather than later.
  const onStopped = () => publisher.flush();
  RED.events.on('flows:stopped', onStopped);
  previous = () => {
    RED.events.off('flows:stopped', onStopped);
    for (const off of unsubscribe) off();
    publisher.stop();
  };

  RED.plugins.registerPlugin('soar-sidebar', { type: 'soar-sidebar' } as never);
};
