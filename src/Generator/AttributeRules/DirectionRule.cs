using OptGen.Generator.Ir;
using OptGen.Generator.Model;

namespace OptGen.Generator.AttributeRules
{
    /// <summary>The direction: <c>dir = m/denom</c> (g without a first moment; 0/0 := 0 without ε; per step m alone when RAdam does not rectify).</summary>
    internal sealed class DirectionRule : IAttributeRule
    {
        public void Declare(OptimizerSpec spec, ProgramBuilder b)
        {
        }

        public void Lower(LoweringContext context, ProgramBuilder b)
        {
            OptimizerSpec spec = context.Spec;
            Expr numerator = Expr.Var(spec.FirstMoment is null ? AttributeLowering.Gradient : "m");
            context.Direction = numerator.Name;
            if (!context.HasDenominator)
            {
                return;
            }

            if (spec.Rectified is not null)
            {
                b.Local("dir", Expr.Select(Expr.Binary(ExprOp.Equal, Expr.Scalar("Rectified"), Expr.Constant(1)), numerator / Expr.Var("denom"), numerator), "Direction");
            }
            else
            {
                b.Local("dir", Expr.Binary(spec.Epsilon is null ? ExprOp.SafeDivide : ExprOp.Divide, numerator, Expr.Var("denom")), "Direction");
            }

            context.Direction = "dir";
        }
    }
}
