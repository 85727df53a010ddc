using System.Collections.Generic;
using OptGen.Generator.Model;

namespace OptGen.Generator
{
    /// <summary>
    /// Phase 2, continued: the rules that carry a per-step schedule — NAdam's μₜ (a host state Πₜ carried across
    /// steps), RAdam's rectification (a per-step select on ρₜ) and Adadelta's accumulator of squared updates
    /// (a second per-element state). Each keeps PyTorch's order of operations so float32 results round alike.
    /// </summary>
    internal static partial class Lowering
    {
        private const string NAdamProduct = "MuProduct";

        private static void StepScheduleHyperparameters(OptimizerSpec spec, ProgramBuilder b)
        {
            if (spec.NesterovMomentumDecay is not null)
            {
                b.Hyperparameter("MomentumDecay", "ψ", spec.NesterovMomentumDecay.MomentumDecay, "NonNegative",
                    "NAdam's momentum decay ψ: μₜ = β₁·(1 − ½·0.96^(t·ψ)).");
            }
        }

        /// <summary>
        /// RAdam: ρ∞ = 2/(1 − β₂) − 1, ρₜ = ρ∞ − 2t·β₂ᵗ/(1 − β₂ᵗ); the step size is the adaptive one times rₜ when
        /// ρₜ exceeds the threshold, else the plain η/(1 − β₁ᵗ). Declares the kernel scalar <c>Rectified</c> (1 or 0)
        /// that selects the direction per step.
        /// </summary>
        private static Expr Rectify(OptimizerSpec spec, ProgramBuilder b, List<string> rule, Expr stepSize, Expr plainStepSize)
        {
            Expr one = Expr.Constant(1);
            Expr two = Expr.Constant(2);
            Expr four = Expr.Constant(4);
            Expr t = Expr.Step();
            Expr beta2 = Expr.Hyperparameter(spec.SecondMoment!.PropertyName);
            Expr beta2t = Expr.Binary(ExprOp.Pow, beta2, t);
            string threshold = Parser.Format(spec.Rectified!.Threshold);

            b.Host("RhoInfinity", (two / (one - beta2)) - one, "ρ∞ = 2/(1 − β₂) − 1");
            Expr rhoInf = Expr.Host("RhoInfinity");
            b.Host("RhoT", rhoInf - (two * t * beta2t / (one - beta2t)), "ρₜ = ρ∞ − 2t·β₂ᵗ/(1 − β₂ᵗ)");
            Expr rhoT = Expr.Host("RhoT");
            b.Host("RectificationTerm",
                Expr.Unary(ExprOp.Sqrt, (rhoT - four) * (rhoT - two) * rhoInf / ((rhoInf - four) * (rhoInf - two) * rhoT)),
                "rₜ = √((ρₜ − 4)(ρₜ − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρₜ)), used only when ρₜ > " + threshold);
            Expr rectified = Expr.Binary(ExprOp.Greater, rhoT, Expr.Constant(spec.Rectified.Threshold));
            b.Scalar("Rectified", Expr.Select(rectified, one, Expr.Constant(0)), $"1 when ρₜ > {threshold} (the rectified adaptive step), else 0 (plain momentum)");

            rule.Add("ρ∞ = 2/(1 − β₂) − 1,  ρₜ = ρ∞ − 2t·β₂ᵗ/(1 − β₂ᵗ)");
            rule.Add("rₜ = √((ρₜ − 4)(ρₜ − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρₜ))");
            return Expr.Select(rectified, stepSize * Expr.Host("RectificationTerm"), plainStepSize);
        }

        /// <summary>Adadelta: u = √(Δ + ε)/√(v + ε)·g; Δ ← ρ·Δ + (1 − ρ)·u²; p ← p − η·u (PyTorch's order).</summary>
        private static void DeltaAccumulatorStep(ProgramBuilder b, List<string> rule, Expr stepSize, string denominatorMath)
        {
            b.State("DeltaAccumulator", "dx", string.Empty, "Adadelta's accumulator Δ: a running average of squared updates u².");
            b.Local("dir", (Expr.Unary(ExprOp.Sqrt, Expr.Var("dx") + Expr.Scalar("Epsilon")) / Expr.Var("denom")) * Expr.Var(Gradient),
                "Direction: u = √(Δ + ε)/denom·g.");
            b.Assign("dx", (Expr.Scalar("SecondMomentDecay") * Expr.Var("dx")) + (Expr.Scalar("SecondMomentWeight") * Expr.Var("dir") * Expr.Var("dir")),
                "Delta accumulator: Δ ← a₂·Δ + b₂·u².");
            b.Scalar("StepSize", stepSize, "η");
            b.Assign(Parameter, Expr.Var(Parameter) - (Expr.Scalar("StepSize") * Expr.Var("dir")), "Step: p ← p − η·u.");
            rule.Add($"u = √(Δ + ε) / ({denominatorMath}) · g");
            rule.Add("Δ ← β₂·Δ + (1 − β₂)·u²");
            rule.Add("p ← p − η·u");
        }

        /// <summary>
        /// NAdam (PyTorch 2): μₜ = β₁(1 − ½·0.96^(tψ)), Πₜ = Πₜ₋₁·μₜ carried on the host;
        /// p ← p − η(1 − μₜ)/(1 − Πₜ)·g/d, then p ← p − η·μₜ₊₁/(1 − Πₜ·μₜ₊₁)·m/d (two steps, as PyTorch's two addcdiv).
        /// </summary>
        private static void NesterovMomentumStep(ProgramBuilder b, List<string> rule, Expr stepSize, string denominatorMath)
        {
            Expr one = Expr.Constant(1);
            Expr t = Expr.Step();
            Expr psi = Expr.Hyperparameter("MomentumDecay");
            Expr beta1 = Expr.Hyperparameter("Beta1");
            Expr Mu(Expr step) => beta1 * (one - (Expr.Constant(0.5) * Expr.Binary(ExprOp.Pow, Expr.Constant(0.96), step * psi)));

            Expr product = Expr.HostStateValue(NAdamProduct);
            b.HostState(NAdamProduct, "Π", 1, product * Mu(t), "NAdam's running product Πₜ = μ₁·μ₂·…·μₜ of the momentum schedule (1 before step 1).");
            b.Host("Mu", Mu(t), "μₜ = β₁·(1 − ½·0.96^(t·ψ))");
            b.Host("MuNext", Mu(t + one), "μₜ₊₁ = β₁·(1 − ½·0.96^((t + 1)·ψ))");
            b.Scalar("GradientStepSize", stepSize * (one - Expr.Host("Mu")) / (one - product), "η·(1 − μₜ)/(1 − Πₜ)");
            b.Scalar("MomentumStepSize", stepSize * Expr.Host("MuNext") / (one - (product * Expr.Host("MuNext"))), "η·μₜ₊₁/(1 − Πₜ·μₜ₊₁)");
            b.Assign(Parameter, Expr.Var(Parameter) - (Expr.Scalar("GradientStepSize") * (Expr.Var(Gradient) / Expr.Var("denom"))),
                "Gradient step: p ← p − η(1 − μₜ)/(1 − Πₜ)·g/denom.");
            b.Assign(Parameter, Expr.Var(Parameter) - (Expr.Scalar("MomentumStepSize") * (Expr.Var("m") / Expr.Var("denom"))),
                "Momentum step: p ← p − η·μₜ₊₁/(1 − Πₜ·μₜ₊₁)·m/denom.");
            rule.Add("μₜ = β₁·(1 − ½·0.96^(t·ψ)),  Πₜ = Πₜ₋₁·μₜ  (Π₀ = 1, carried across steps)");
            rule.Add($"d = {denominatorMath}");
            rule.Add("p ← p − η·(1 − μₜ)/(1 − Πₜ)·g/d − η·μₜ₊₁/(1 − Πₜ·μₜ₊₁)·m/d");
        }
    }
}
