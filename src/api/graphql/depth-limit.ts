import {
  Kind,
  type ASTVisitor,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
} from 'graphql';
import { createGraphQLError } from 'graphql-yoga';

/** Deepest selection nesting a query may have: deep enough for every real use of the schema. */
export const DEFAULT_MAX_DEPTH = 12;

/**
 * A validation rule that refuses queries nested deeper than `maxDepth` (fragments expanded), so a
 * crafted query cannot make the server resolve an unbounded tree. Fragment cycles are left to
 * graphql's own NoFragmentCycles rule; here they simply stop the walk.
 */
export function createDepthLimitRule(maxDepth = DEFAULT_MAX_DEPTH): (context: ValidationContext) => ASTVisitor {
  return (context) => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const def of context.getDocument().definitions) {
      if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
    }

    const depthOf = (set: SelectionSetNode, visiting: Set<string>): number => {
      let deepest = 0;
      for (const selection of set.selections) {
        let depth = 0;
        if (selection.kind === Kind.FIELD) {
          depth = selection.selectionSet ? 1 + depthOf(selection.selectionSet, visiting) : 1;
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          depth = depthOf(selection.selectionSet, visiting);
        } else {
          const name = selection.name.value;
          const fragment = fragments.get(name);
          if (fragment && !visiting.has(name)) {
            visiting.add(name);
            depth = depthOf(fragment.selectionSet, visiting);
            visiting.delete(name);
          }
        }
        if (depth > deepest) deepest = depth;
        // Stop early: the answer is already "too deep" and a hostile query may be very wide.
        if (deepest > maxDepth) return deepest;
      }
      return deepest;
    };

    return {
      OperationDefinition(node) {
        const depth = depthOf(node.selectionSet, new Set());
        if (depth > maxDepth) {
          context.reportError(
            createGraphQLError(
              `The query is nested more than ${maxDepth} levels deep, the limit: ask for fewer nested fields.`,
              {
                nodes: [node],
                extensions: { code: 'QUERY_TOO_DEEP' },
              },
            ),
          );
        }
      },
    };
  };
}
