/** Real alerts for the rule and case type specs: samples from test/fixtures normalised with lib/alert. */
import { normalized } from '../alert/helpers';
import { sampleRecord } from '../alert/fixtures';
import type { Alert } from '../../../lib/alert';

/** Wazuh 4.x rule 5712 (sshd brute force): source 172.17.1.1, user paco, host localhost.localdomain, T1110, medium. */
export const wazuhBruteForce = (): Alert =>
  normalized(sampleRecord('wazuh', 'wazuh-4x-alert-sshd-5712-bruteforce.json'));

/** Suricata EVE alert from the Suricata docs: 192.168.2.14 → 209.53.113.5, rule 2018358, medium, no ATT&CK ids. */
export const suricataPost = (): Alert =>
  normalized(sampleRecord('suricata-eve', 'suricata-docs-alert-2017-example.ndjson'));

/** Wazuh 5.x FIM finding: no source address; host wazuh-endpoint-linux (192.168.1.2). */
export const wazuhFim = (): Alert => normalized(sampleRecord('wazuh', 'wazuh-5x-findings-fim.ndjson'));

/** OCSF Prowler finding: no observables and no host; rule accessanalyzer_enabled. */
export const prowlerFinding = (): Alert => normalized(sampleRecord('ocsf', 'prowler-detection-finding-aws.ocsf.json'));
