using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using OptGen.Generator.Model;

namespace OptGen.Generator.Emit
{
    /// <summary>How an expression is printed: host double code, element float code, or SIMD code of one width.</summary>
    internal enum ExprFlavor
    {
        HostDouble,
        ElementScalar,
        Vector128,
        Vector256,
        Vector512,
    }

    /// <summary>
    /// Prints IR expressions as C#. Names are resolved by a callback so each emitter chooses its identifiers. (The
    /// frozen text ids are hashed from is Ir/CanonicalForm; the text people read is Ir/MathText.)
    /// </summary>
    internal static class ExprText
    {
        public static string Print(Expr e, ExprFlavor flavor, Func<Expr, string, string> name)
        {
            var text = new StringBuilder();
            Write(text, e, flavor, name, 0);
            return text.ToString();
        }

        /// <summary>The kernel field holding the step's random key (rules that call randn()).</summary>
        public const string RandomKeyName = "RandomKey";

        /// <summary>The <c>Invoke</c> parameter holding the global index of the (first) element (rules that call randn()).</summary>
        public const string IndexName = "global_index";

        /// <summary>Whether any statement draws random numbers.</summary>
        public static bool UsesRandom(IEnumerable<ElementStatement> body) => body.Any(s => Expr.Draws(s.Value));

        private static int Precedence(ExprOp op) => op switch
        {
            ExprOp.Add or ExprOp.Subtract => 1,
            ExprOp.Multiply or ExprOp.Divide => 2,
            ExprOp.Negate => 3,
            _ => 4,
        };

        private static void Write(StringBuilder text, Expr e, ExprFlavor flavor, Func<Expr, string, string> name, int parentPrecedence)
        {
            bool vector = flavor is ExprFlavor.Vector128 or ExprFlavor.Vector256 or ExprFlavor.Vector512;
            string v = flavor.ToString();
            string math = flavor == ExprFlavor.HostDouble ? "global::System.Math" : "global::System.MathF";
            string vec = vector ? "global::System.Runtime.Intrinsics." + v : string.Empty;
            int precedence = Precedence(e.Op);
            bool wrap = precedence < parentPrecedence;

            switch (e.Op)
            {
                case ExprOp.Constant:
                    text.Append(flavor switch
                    {
                        ExprFlavor.HostDouble => DoubleLiteral(e.Value),
                        ExprFlavor.ElementScalar => FloatLiteral(e.Value),
                        _ => $"{vec}.Create({FloatLiteral(e.Value)})",
                    });
                    return;
                case ExprOp.Hyperparameter:
                case ExprOp.StepNumber:
                case ExprOp.RuntimeInput:
                case ExprOp.HostValue:
                case ExprOp.HostState:
                case ExprOp.Variable:
                    text.Append(name(e, e.Op == ExprOp.StepNumber ? "t" : e.Name));
                    return;
                case ExprOp.RandomNormal:
                case ExprOp.RandomUniform:
                    // A counter-based draw from (the step's key, the element's global index, the draw's ordinal): every
                    // width computes each lane with the scalar code, so all paths (and the GPU kernel) draw the same numbers.
                    text.Append(e.Op == ExprOp.RandomNormal ? "global::OptGen.Kernels.CounterRandom.Normal" : "global::OptGen.Kernels.CounterRandom.Uniform").Append(vector ? v.Substring("Vector".Length) : string.Empty)
                        .Append('(').Append(RandomKeyName).Append(", ").Append(IndexName).Append(", ")
                        .Append(((int)e.Value).ToString(CultureInfo.InvariantCulture)).Append(')');
                    return;
                case ExprOp.Scalar:
                    text.Append(vector ? $"{vec}.Create({name(e, e.Name)})" : name(e, e.Name));
                    return;
            }

            if (e.Op is ExprOp.Add or ExprOp.Subtract or ExprOp.Multiply or ExprOp.Divide)
            {
                string op = e.Op switch { ExprOp.Add => " + ", ExprOp.Subtract => " - ", ExprOp.Multiply => " * ", _ => " / " };
                if (wrap)
                {
                    text.Append('(');
                }

                Write(text, e.Args[0], flavor, name, precedence);
                text.Append(op);

                // Right operand of - and / (and any same-precedence right operand) needs parentheses.
                Write(text, e.Args[1], flavor, name, precedence + 1);
                if (wrap)
                {
                    text.Append(')');
                }

                return;
            }

            if (e.Op == ExprOp.Negate)
            {
                text.Append(wrap ? "(-" : "-");
                Write(text, e.Args[0], flavor, name, 4);
                if (wrap)
                {
                    text.Append(')');
                }

                return;
            }

            string A(int i) => Print(e.Args[i], flavor, name);
            string zero = flavor == ExprFlavor.HostDouble ? "0.0" : vector ? $"{vec}<float>.Zero" : "0f";
            switch (e.Op)
            {
                case ExprOp.Abs:
                case ExprOp.Sqrt:
                    text.Append(vector ? vec : math).Append('.').Append(e.Op).Append('(').Append(A(0)).Append(')');
                    return;
                case ExprOp.Exp:
                case ExprOp.Log:
                    // SIMD exp/log run MathF lane by lane (OptGen.Kernels.LaneMath), so every width rounds exactly as
                    // the scalar path (and the GPU kernel that calls it) does; Vector128.Exp/Log are not bit-identical to MathF.
                    text.Append(vector ? "global::OptGen.Kernels.LaneMath" : math).Append('.').Append(e.Op).Append('(').Append(A(0)).Append(')');
                    return;
                case ExprOp.Sign:
                    {
                        // 1 for x > 0, −1 for x < 0, else x·0 (keeps ±0 and NaN); the same on every path.
                        string x = A(0);
                        string one = flavor == ExprFlavor.HostDouble ? "1.0" : "1f";
                        if (vector)
                        {
                            text.Append($"{vec}.ConditionalSelect({vec}.GreaterThan({x}, {zero}), {vec}.Create({one}), {vec}.ConditionalSelect({vec}.LessThan({x}, {zero}), {vec}.Create(-{one}), ({x}) * {zero}))");
                        }
                        else
                        {
                            text.Append($"({x} > {zero} ? {one} : {x} < {zero} ? -{one} : ({x}) * {zero})");
                        }

                        return;
                    }
                case ExprOp.Min:
                case ExprOp.Max:
                case ExprOp.Pow:
                    text.Append(vector ? vec : math).Append('.').Append(e.Op).Append('(').Append(A(0)).Append(", ").Append(A(1)).Append(')');
                    return;
                case ExprOp.SafeDivide:
                    text.Append(vector
                        ? $"{vec}.ConditionalSelect({vec}.Equals({A(1)}, {zero}), {zero}, ({A(0)}) / ({A(1)}))"
                        : $"({A(1)} == {zero} ? {zero} : ({A(0)}) / ({A(1)}))");
                    return;
                case ExprOp.Less:
                case ExprOp.LessOrEqual:
                case ExprOp.Greater:
                case ExprOp.GreaterOrEqual:
                case ExprOp.Equal:
                case ExprOp.NotEqual:
                    if (vector && e.Op == ExprOp.NotEqual)
                    {
                        // No Vector*.NotEquals: the complement of Equals (true for NaN, as the scalar !=).
                        text.Append('~').Append(vec).Append(".Equals(").Append(A(0)).Append(", ").Append(A(1)).Append(')');
                    }
                    else if (vector)
                    {
                        string method = e.Op == ExprOp.Equal ? "Equals" : e.Op.ToString() + "Than";
                        method = method.Replace("OrEqualThan", "ThanOrEqual");
                        text.Append(vec).Append('.').Append(method).Append('(').Append(A(0)).Append(", ").Append(A(1)).Append(')');
                    }
                    else
                    {
                        string op = e.Op switch
                        {
                            ExprOp.Less => " < ",
                            ExprOp.LessOrEqual => " <= ",
                            ExprOp.Greater => " > ",
                            ExprOp.GreaterOrEqual => " >= ",
                            ExprOp.NotEqual => " != ",
                            _ => " == ",
                        };
                        text.Append('(').Append(A(0)).Append(op).Append(A(1)).Append(')');
                    }

                    return;
                case ExprOp.Select:
                    text.Append(vector
                        ? $"{vec}.ConditionalSelect({A(0)}, {A(1)}, {A(2)})"
                        : $"({A(0)} ? {A(1)} : {A(2)})");
                    return;
                case ExprOp.MultiplyAdd:
                    // Rounded once on every path: SIMD FusedMultiplyAdd (fused in software where the CPU has no FMA),
                    // and per element OptGen.Kernels.ElementMath (MathF.FusedMultiplyAdd does not compile on ILGPU's CUDA backend).
                    text.Append(vector ? vec : flavor == ExprFlavor.HostDouble ? math : "global::OptGen.Kernels.ElementMath")
                        .Append(".FusedMultiplyAdd(").Append(A(0)).Append(", ").Append(A(1)).Append(", ").Append(A(2)).Append(')');
                    return;
                default:
                    throw new InvalidOperationException("Unknown IR operation " + e.Op);
            }
        }

        /// <summary>A double literal in round-trip invariant form, e.g. <c>0.9</c>, <c>1.0</c>, <c>1E-08</c>.</summary>
        public static string DoubleLiteral(double value)
        {
            string s = value.ToString("R", CultureInfo.InvariantCulture);
            return s.IndexOfAny(new[] { '.', 'E', 'e' }) >= 0 ? s : s + ".0";
        }

        /// <summary>A float literal in round-trip invariant form, e.g. <c>0.9f</c>.</summary>
        public static string FloatLiteral(double value)
        {
            float f = (float)value;
            return float.IsPositiveInfinity(f) ? "float.PositiveInfinity"
                : float.IsNegativeInfinity(f) ? "float.NegativeInfinity"
                : float.IsNaN(f) ? "float.NaN"
                : f.ToString("R", CultureInfo.InvariantCulture) + "f";
        }
    }
}
