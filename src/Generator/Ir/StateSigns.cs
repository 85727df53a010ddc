using System;
using System.Collections.Generic;
using System.Linq;
using OptGen.Generator.Model;

namespace OptGen.Generator.Ir
{
    /// <summary>
    /// Which state buffers never hold a negative value: the ones whose initial value is ≥ 0 and whose every
    /// assignment is ≥ 0 when they all are (second moments, sums of squares, running maxima of them). Blockwise state
    /// stores those with the unsigned code map. Proved by interval arithmetic over the program: hyperparameters by
    /// their declared range, host values by their formulas, element locals in statement order, the candidate states
    /// as [0, ∞); a state whose assignment cannot be shown ≥ 0 leaves the candidates and the proof is redone.
    /// </summary>
    internal static class StateSigns
    {
        /// <summary>The symbols of the state buffers proved ≥ 0.</summary>
        public static HashSet<string> NonNegative(UpdateProgram program)
        {
            var hyperparameters = program.Hyperparameters.ToDictionary(h => h.Name, h => h.Range);
            var candidates = new HashSet<string>(program.States
                .Where(s => s.InitialValue.Length == 0 || (hyperparameters.TryGetValue(s.InitialValue, out HyperparameterRange r) && Range(r).Low >= 0))
                .Select(s => s.Symbol));
            bool changed = true;
            while (changed)
            {
                changed = false;
                var analysis = new Analysis(hyperparameters, program.Host, candidates);
                foreach (ElementStatement statement in program.Body)
                {
                    Interval value = analysis.OfStatement(statement.Value);
                    if (candidates.Contains(statement.Target) && !statement.DeclaresLocal)
                    {
                        if (!(value.Low >= 0))
                        {
                            candidates.Remove(statement.Target);
                            changed = true;
                            break;
                        }
                    }
                    else
                    {
                        analysis.Locals[statement.Target] = value;
                    }
                }
            }

            return candidates;
        }

        private static Interval Range(HyperparameterRange range) => range switch
        {
            HyperparameterRange.NonNegative or HyperparameterRange.Positive or HyperparameterRange.Count => new Interval(0, double.PositiveInfinity),
            HyperparameterRange.UnitInterval or HyperparameterRange.Boolean or HyperparameterRange.Probability => new Interval(0, 1),
            _ => Interval.All,
        };

        private readonly struct Interval
        {
            public Interval(double low, double high)
            {
                // NaN bounds (∞ − ∞, 0·∞) mean nothing is known.
                Low = double.IsNaN(low) ? double.NegativeInfinity : low;
                High = double.IsNaN(high) ? double.PositiveInfinity : high;
            }

            public static Interval All => new(double.NegativeInfinity, double.PositiveInfinity);

            public static Interval NonNegative => new(0, double.PositiveInfinity);

            public double Low { get; }

            public double High { get; }
        }

        /// <summary>
        /// The intervals of one pass over the program. Each host value's interval is computed once, in host order (a
        /// host value reads only earlier ones), and each node's once per statement (a product asks for its factors'
        /// intervals and its operands'): without both, a chain of step scalars that each read the previous one
        /// twice (<c>a2 = a1 * a1</c>) or nested products took time exponential in their length and recursed as deep.
        /// </summary>
        private sealed class Analysis
        {
            private readonly Dictionary<string, HyperparameterRange> hyperparameters;
            private readonly Dictionary<string, Interval> host = new();
            private readonly HashSet<string> states;
            private readonly Dictionary<Expr, Interval> memo = new(ReferenceComparer.Instance);

            public Analysis(Dictionary<string, HyperparameterRange> hyperparameters, IEnumerable<HostStatement> hostValues, HashSet<string> states)
            {
                this.hyperparameters = hyperparameters;
                this.states = states;
                foreach (HostStatement value in hostValues)
                {
                    host[value.Name] = OfStatement(value.Value);
                }
            }

            public Dictionary<string, Interval> Locals { get; } = new Dictionary<string, Interval>();

            /// <summary>The interval of a statement's value, with the locals as they are before it.</summary>
            public Interval OfStatement(Expr e)
            {
                memo.Clear(); // a local's interval changes between statements
                return Of(e);
            }

            private Interval Of(Expr e)
            {
                if (memo.TryGetValue(e, out Interval known))
                {
                    return known;
                }

                Interval interval = Compute(e);
                memo[e] = interval;
                return interval;
            }

            private Interval Compute(Expr e)
            {
                switch (e.Op)
                {
                    case ExprOp.Constant:
                        return new Interval(e.Value, e.Value);
                    case ExprOp.Hyperparameter:
                        return hyperparameters.TryGetValue(e.Name, out HyperparameterRange range) ? Range(range) : Interval.All;
                    case ExprOp.StepNumber:
                        return new Interval(1, double.PositiveInfinity);
                    case ExprOp.HostValue:
                    case ExprOp.Scalar:
                        return host.TryGetValue(e.Name, out Interval value) ? value : Interval.All;
                    case ExprOp.Variable:
                        return states.Contains(e.Name) ? Interval.NonNegative : Locals.TryGetValue(e.Name, out Interval local) ? local : ElementInputs.IsNonNegativeInput(e.Name) ? Interval.NonNegative : Interval.All;
                    case ExprOp.RandomUniform:
                        return new Interval(0, 1);
                    case ExprOp.Abs:
                        return Interval.NonNegative;
                    case ExprOp.Exp:
                        return Interval.NonNegative;
                    case ExprOp.Sqrt:
                        return new Interval(Math.Sqrt(Math.Max(0, Of(e.Args[0]).Low)), Math.Sqrt(Math.Max(0, Of(e.Args[0]).High)));
                    case ExprOp.Negate:
                        {
                            Interval a = Of(e.Args[0]);
                            return new Interval(-a.High, -a.Low);
                        }

                    case ExprOp.Sign:
                        {
                            Interval a = Of(e.Args[0]);
                            return new Interval(a.Low >= 0 ? 0 : -1, a.High <= 0 ? 0 : 1);
                        }

                    case ExprOp.Add:
                        {
                            Interval a = Of(e.Args[0]), b = Of(e.Args[1]);
                            return new Interval(a.Low + b.Low, a.High + b.High);
                        }

                    case ExprOp.Subtract:
                        {
                            Interval a = Of(e.Args[0]), b = Of(e.Args[1]);
                            return new Interval(a.Low - b.High, a.High - b.Low);
                        }

                    case ExprOp.Multiply:
                        {
                            // A product is ≥ 0 when every factor is, or appears an even number of times (w·g·g).
                            var factors = new List<Expr>();
                            Factors(e, factors);
                            bool nonNegative = factors.All(f => Of(f).Low >= 0 || factors.Count(o => o.Equals(f)) % 2 == 0);
                            Interval product = Product(Of(e.Args[0]), Of(e.Args[1]));
                            return nonNegative ? new Interval(Math.Max(0, product.Low), product.High) : product;
                        }

                    case ExprOp.Divide:
                    case ExprOp.SafeDivide:
                        {
                            Interval a = Of(e.Args[0]), b = Of(e.Args[1]);
                            return a.Low >= 0 && b.Low >= 0 ? Interval.NonNegative : Interval.All;
                        }

                    case ExprOp.Pow:
                        {
                            Interval a = Of(e.Args[0]), b = Of(e.Args[1]);
                            if (a.Low >= 0 && a.High <= 1 && b.Low >= 0)
                            {
                                return new Interval(0, 1);
                            }

                            return a.Low >= 0 ? Interval.NonNegative : Interval.All;
                        }

                    case ExprOp.Min:
                        {
                            Interval a = Of(e.Args[0]), b = Of(e.Args[1]);
                            return new Interval(Math.Min(a.Low, b.Low), Math.Min(a.High, b.High));
                        }

                    case ExprOp.Max:
                        {
                            Interval a = Of(e.Args[0]), b = Of(e.Args[1]);
                            return new Interval(Math.Max(a.Low, b.Low), Math.Max(a.High, b.High));
                        }

                    case ExprOp.MultiplyAdd:
                        return Of(Expr.Unfused(e));

                    case ExprOp.Select:
                        {
                            Interval a = Of(e.Args[1]), b = Of(e.Args[2]);
                            return new Interval(Math.Min(a.Low, b.Low), Math.Max(a.High, b.High));
                        }

                    default:
                        return Expr.IsComparison(e.Op) ? new Interval(0, 1) : Interval.All;
                }
            }

            private static void Factors(Expr e, List<Expr> factors)
            {
                if (e.Op == ExprOp.Multiply)
                {
                    Factors(e.Args[0], factors);
                    Factors(e.Args[1], factors);
                }
                else
                {
                    factors.Add(e);
                }
            }

            /// <summary>Nodes by reference: hashing a record by value walks its whole subtree.</summary>
            private sealed class ReferenceComparer : IEqualityComparer<Expr>
            {
                public static readonly ReferenceComparer Instance = new();

                public bool Equals(Expr? x, Expr? y) => ReferenceEquals(x, y);

                public int GetHashCode(Expr obj) => System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(obj);
            }

            private static Interval Product(Interval a, Interval b)
            {
                if (a.Low >= 0 && b.Low >= 0)
                {
                    return new Interval(a.Low * b.Low, a.High * b.High);
                }

                double[] products = { a.Low * b.Low, a.Low * b.High, a.High * b.Low, a.High * b.High };
                return products.Any(double.IsNaN) ? Interval.All : new Interval(products.Min(), products.Max());
            }
        }
    }
}
