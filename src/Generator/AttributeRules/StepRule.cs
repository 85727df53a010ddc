using OptGen.Generator.Ir;
using OptGen.Generator.Model;

namespace OptGen.Generator.AttributeRules
{
    /// <summary>The plain step <c>p ← p − StepSize·dir</c>, when no momentum or step schedule wrote it.</summary>
    internal sealed class StepRule : IAttributeRule
    {
        public void Declare(OptimizerSpec spec, ProgramBuilder b)
        {
        }

        public void Lower(LoweringContext context, ProgramBuilder b)
        {
            string p = AttributeLowering.Parameter;
            b.Scalar("StepSize", context.StepSize);
            b.Assign(p, Expr.Var(p) - (Expr.Scalar("StepSize") * Expr.Var(context.Direction)), "Step");
            context.Finished = true;
        }
    }
}
