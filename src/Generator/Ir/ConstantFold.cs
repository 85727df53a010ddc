using System;
using OptGen.Generator.Model;

namespace OptGen.Generator.Ir
{
    /// <summary>
    /// The value of an expression made of numbers alone, computed in double as the generated host code computes it
    /// (<c>Math.Exp</c>, <c>Math.Pow</c>, …; Emit/ExprText.cs prints the same operations), or null when the expression
    /// reads anything else (t, a hyperparameter, a per-element value) or is a condition. The front end's checks of
    /// divisors and non-finite parts, and of kernel scalars that float32 cannot hold, fold with it.
    /// </summary>
    internal static class ConstantFold
    {
        /// <param name="e">The expression.</param>
        /// <param name="hostValue">The value of a host statement by name where it is itself a constant, else null; null: host values are not constants.</param>
        public static double? Value(Expr e, Func<string, double?>? hostValue = null)
        {
            if (e.Op == ExprOp.Constant)
            {
                return e.Value;
            }

            if (e.Op == ExprOp.HostValue)
            {
                return hostValue?.Invoke(e.Name);
            }

            var values = new double[e.Args.Count];
            for (int i = 0; i < values.Length; i++)
            {
                if (Value(e.Args[i], hostValue) is not double value)
                {
                    return null;
                }

                values[i] = value;
            }

            return e.Op switch
            {
                ExprOp.Negate => -values[0],
                ExprOp.Abs => Math.Abs(values[0]),
                ExprOp.Sqrt => Math.Sqrt(values[0]),
                ExprOp.Exp => Math.Exp(values[0]),
                ExprOp.Log => Math.Log(values[0]),
                ExprOp.Sign => values[0] > 0 ? 1 : values[0] < 0 ? -1 : values[0] * 0,
                ExprOp.Add => values[0] + values[1],
                ExprOp.Subtract => values[0] - values[1],
                ExprOp.Multiply => values[0] * values[1],
                ExprOp.Divide => values[0] / values[1],
                ExprOp.SafeDivide => values[1] == 0 ? 0 : values[0] / values[1],
                ExprOp.Min => Math.Min(values[0], values[1]),
                ExprOp.Max => Math.Max(values[0], values[1]),
                ExprOp.Pow => Math.Pow(values[0], values[1]),
                _ => null,
            };
        }
    }
}
