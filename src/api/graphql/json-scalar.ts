import { GraphQLScalarType, valueFromASTUntyped } from 'graphql';

/** Free-form JSON values (fingerprints, params, settings). Validation belongs to whoever consumes them. */
export const JsonScalar = new GraphQLScalarType({
  name: 'JSON',
  description: 'Any JSON value: an object, array, string, number, boolean or null.',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (ast, variables) => valueFromASTUntyped(ast, variables),
});
