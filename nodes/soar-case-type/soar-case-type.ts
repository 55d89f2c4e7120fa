import type { Node, NodeAPI, NodeDef } from 'node-red';
import { caseTypeFromConfig, type CaseType, type CaseTypeProvider } from '../../lib/rules/case-type';

interface CaseTypeDef extends NodeDef {
  keyExpression: string;
  windowMinutes: number | string;
  severity: string;
  slaMinutes: number | string;
}

type CaseTypeNode = Node & CaseTypeProvider;

export = function (RED: NodeAPI) {
  function SoarCaseType(this: CaseTypeNode, config: CaseTypeDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    let caseType: CaseType | undefined;
    let problem: string | undefined;
    try {
      caseType = caseTypeFromConfig({
        id: config.id,
        name: config.name,
        keyExpression: config.keyExpression,
        windowMinutes: config.windowMinutes,
        severity: config.severity,
        slaMinutes: config.slaMinutes,
      });
    } catch (err) {
      problem = `case type "${config.name || config.id}" is misconfigured: ${(err as Error).message}`;
      node.error(problem);
    }

    // Nodes that use this case type call this for each alert: a fresh copy, so no one changes it for the others.
    node.caseType = () => {
      if (!caseType) throw new Error(problem);
      return { ...caseType };
    };
  }

  RED.nodes.registerType<CaseTypeNode, CaseTypeDef, object, object>('soar-case-type', SoarCaseType);
};
